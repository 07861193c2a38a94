#include "cli/commands.h"

#include <memory>

#include "cli/client_commands.h"

namespace georep {

void AddClientCommands(CLI::App& app, int* exit_code) {
  CommandContext ctx{std::make_shared<Globals>(), exit_code};
  app.add_flag("--json", ctx.globals->json, "Print the API's JSON instead of tables");
  app.add_option("--server", ctx.globals->server,
                 "Engine URL (default: the one saved by 'georep login')");
  // In the order `georep --help` lists them.
  AddLoginCommands(app, ctx);
  AddClusterCommands(app, ctx);
  AddHostCommands(app, ctx);
  AddVolumeCommands(app, ctx);
  AddDestinationCommands(app, ctx);
  AddSessionCommands(app, ctx);
  AddEventCommands(app, ctx);
  AddAlertCommands(app, ctx);
  AddUserCommands(app, ctx);
}

}  // namespace georep
