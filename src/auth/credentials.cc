#include "auth/credentials.h"

#include <sodium.h>

namespace georep {

Result<std::string> HashPassword(std::string_view password) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::Internal("password hashing ran out of memory");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view password, const std::string& hash) {
  if (sodium_init() < 0) return false;
  if (hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Status ValidateNewPassword(std::string_view password) {
  if (password.size() < 12)
    return Status::InvalidArgument("password must have at least 12 characters");
  if (password.size() > 1024)
    return Status::InvalidArgument("password must have at most 1024 characters");
  return Status::Ok();
}

std::string NewTokenSecret(Random& random) {
  return "grp_" + random.NewToken(32);
}

std::string TokenDigest(std::string_view secret) {
  unsigned char digest[32];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size(), nullptr, 0);
  char hex[sizeof digest * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex);
}

}  // namespace georep
