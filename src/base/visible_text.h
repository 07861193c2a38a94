// VisibleText: text from outside (a remote host's error, a rejected value, a file name) made
// safe to show on one line of a terminal, a log or a page: control characters shown as
// escapes -- \n, \r, \t, other C0 controls and DEL as \xHH, C1 controls, line separators and
// bidirectional controls (U+202E "right-to-left override" and kin) as \uHHHH -- and bytes that
// are not UTF-8 as \xHH; everything else unchanged. Such text can then neither break a layout,
// drive a terminal, nor reorder what is shown around it.
#pragma once

#include <string>
#include <string_view>

namespace georep {

std::string VisibleText(std::string_view s);

}  // namespace georep
