// Credentials: password hashing and API-token secrets.
//
// Passwords are stored only as Argon2id hashes (libsodium crypto_pwhash_str: random salt,
// 64 MiB, slow on purpose). API tokens are 256-bit random secrets shown to the user once;
// the store keeps only their BLAKE2b-256 digest, which is enough for a high-entropy secret.
#pragma once

#include <string>
#include <string_view>

#include "base/random.h"
#include "base/status.h"

namespace georep {

Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view password, const std::string& hash);

// Passwords chosen by people: at least 12 characters.
Status ValidateNewPassword(std::string_view password);

// "grp_" + 43 base64url characters.
std::string NewTokenSecret(Random& random);
// Hex digest of a token secret, as stored.
std::string TokenDigest(std::string_view secret);

}  // namespace georep
