// kbctl's profile file (rpk's rpk.yaml in spirit): the settings a user would otherwise repeat
// on every command line. Read from $KBCTL_CONFIG, else $XDG_CONFIG_HOME/kbctl/kbctl.yaml
// (~/.config/kbctl/kbctl.yaml). Keys: brokers (a list or "h:p,h:p"), format (json|table),
// timeout.ms, client.id. Precedence: command-line flag > environment (KBCTL_BROKERS,
// KBCTL_FORMAT) > profile > default.
#pragma once

#include <optional>
#include <string>

namespace kb::kbctl {

struct Profile {
  std::string path;  // the file read; empty when there was none
  std::optional<std::string> brokers, format, client_id;
  std::optional<int64_t> timeout_ms;
};

// The profile, or an empty one when no file is there. An unreadable or invalid file, or a
// KBCTL_CONFIG naming a missing file, is a usage error (exit 2) naming the file and the key.
Profile load_profile();

}  // namespace kb::kbctl
