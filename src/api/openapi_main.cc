// georep_openapi: prints the engine's OpenAPI document (api/openapi.h) as JSON, the one the
// engine serves at GET /api/v1/openapi.json. scripts/build-web.sh writes it to web/openapi.json,
// from which the web console's TypeScript types are generated.
//
//   georep_openapi [VERSION]   the document's info.version (default: the project's version)
#include <iostream>
#include <string>

#include "api/openapi.h"

int main(int argc, char** argv) {
  const std::string version = argc > 1 ? argv[1] : GEOREP_VERSION;
  std::cout << georep::OpenApiDocument(version).dump(2) << "\n";
  return 0;
}
