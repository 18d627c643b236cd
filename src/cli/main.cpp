// `streamquant` command-line entry point: dispatches to the self-registered subcommands.
#include <cstdio>
#include <iostream>

#include "cli/cli_common.hpp"

namespace sqcli {

std::vector<std::pair<std::string, SetupFn>>& registry() {
  static std::vector<std::pair<std::string, SetupFn>> r;
  return r;
}

Registrar::Registrar(const char* name, SetupFn setup) { registry().emplace_back(name, setup); }

void check(sq_error* err) {
  if (!err) return;
  CliError e(sq_error_code(err), sq_error_message(err));
  sq_error_free(err);
  throw e;
}

static void log_to_stderr(int32_t level, const char* message, void*) {
  static const char* names[] = {"debug", "info", "warning", "error"};
  std::fprintf(stderr, "[%s] %s\n", (level >= 0 && level <= 3) ? names[level] : "log", message);
}

Context::Context(const std::string& device, int threads, bool verbose) {
  check(sq_context_create(&ptr, device.c_str()));
  check(sq_context_set_threads(ptr, threads));
  check(sq_context_set_log(ptr, log_to_stderr, verbose ? SQ_LOG_DEBUG : SQ_LOG_WARN, nullptr));
}

Model::Model(Context& ctx, const std::string& path) { check(sq_model_open(&ptr, ctx.ptr, path.c_str())); }

}  // namespace sqcli

int main(int argc, char** argv) {
  CLI::App app{"streamquant: post-training quantization of LLMs, one block at a time"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the library version and exit");
  for (auto& [name, setup] : sqcli::registry()) setup(app);
  try {
    app.parse(argc, argv);
    if (show_version) {
      std::printf("streamquant %s (CUDA backend: %s)\n", sq_version(), sq_build_has_cuda() ? "yes" : "no");
      return 0;
    }
    if (app.get_subcommands().empty()) {
      std::cout << app.help();
      return 2;
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const sqcli::CliError& e) {
    std::fprintf(stderr, "streamquant: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamquant: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
