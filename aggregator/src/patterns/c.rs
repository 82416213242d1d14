//! Entries for C and C++ builds: gcc / clang diagnostics, the linker, make,
//! CMake, ninja, the sanitizers.
//!
//! Owns the C family only. Formats as printed by gcc 12, GNU ld / collect2
//! and GNU make 4 (checked on real runs: a compile error, an undefined
//! reference, a missing header, a missing make target), clang and CMake.

use super::{Entry, Severity};

/// Build drivers and compilers of C and C++.
const CC: &[&str] = &[
    "make", "cmake", "ctest", "ninja", "gcc", "g++", "cc", "c++", "clang", "clang++", "ld", "meson",
];

/// C entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "cc-error",
        tool: "gcc / clang",
        severity: Severity::Error,
        regex: r"^(\S+:[0-9]+(:[0-9]+)?: (fatal )?error: |(\S+/)?(gcc|g\+\+|cc|c\+\+|cc1(plus)?|clang(\+\+)?)(-[0-9]+)?: (fatal )?error: )",
        excludes: &[],
        commands: CC,
        catches: "a compiler error: `a.c:2:45: error: 'y' undeclared`, `d.c:1:10: fatal error: missing.h: No such file or directory`, `cc1: fatal error: nofile.c: …`",
    },
    Entry {
        id: "cc-warning",
        tool: "gcc / clang",
        severity: Severity::Warning,
        regex: r"^\S+:[0-9]+(:[0-9]+)?: warning: ",
        excludes: &[],
        commands: CC,
        catches: "`a.c:2:21: warning: unused variable 'x' [-Wunused-variable]`",
    },
    Entry {
        id: "ld-undefined-reference",
        tool: "ld",
        severity: Severity::Error,
        regex: r"^(\S+: )?\S+: (undefined reference to |multiple definition of )[`']|^Undefined symbols for architecture ",
        excludes: &[],
        commands: CC,
        catches: "``b.c:(.text+0x5): undefined reference to `foo'``, `multiple definition of`, macOS's `Undefined symbols for architecture x86_64:`",
    },
    Entry {
        id: "ld-error",
        tool: "ld",
        severity: Severity::Error,
        regex: r"^(\S+/)?(ld(\.\w+)?|collect2|lld|ld64\.lld|mold): (error: |fatal error: |cannot find |symbol\(s\) not found|library not found)",
        excludes: &[],
        commands: CC,
        catches: "`collect2: error: ld returned 1 exit status`, `/usr/bin/ld: cannot find -lfoo`, macOS ld's `ld: symbol(s) not found for architecture arm64`",
    },
    Entry {
        id: "make-error",
        tool: "make",
        severity: Severity::FailureSummary,
        regex: r"^(\S*/)?g?make(\[[0-9]+\])?: \*\*\* ",
        excludes: &[],
        commands: CC,
        catches: "`make: *** [Makefile:2: all] Error 1`, `make: *** No rule to make target 'x'.  Stop.` (not `(ignored)` errors, which print no `***`)",
    },
    Entry {
        id: "cmake-error",
        tool: "cmake",
        severity: Severity::Error,
        regex: r"^CMake Error\b",
        excludes: &[],
        commands: CC,
        catches: "`CMake Error at CMakeLists.txt:3 (find_package):`",
    },
    Entry {
        id: "cmake-warning",
        tool: "cmake",
        severity: Severity::Warning,
        regex: r"^CMake (Warning|Deprecation Warning)\b",
        excludes: &[],
        commands: CC,
        catches: "`CMake Warning at CMakeLists.txt:9 (message):`",
    },
    Entry {
        id: "ninja-failed",
        tool: "ninja",
        severity: Severity::Error,
        regex: r"^(FAILED: \S|ninja: build stopped: )",
        excludes: &[],
        commands: CC,
        catches: "`FAILED: CMakeFiles/app.dir/main.c.o`, `ninja: build stopped: subcommand failed.`",
    },
    Entry {
        id: "ctest-failed",
        tool: "ctest",
        severity: Severity::FailureSummary,
        regex: r"^([0-9]+% tests passed, [1-9][0-9]* tests? failed out of [0-9]+|The following tests FAILED:|\s*[0-9]+/[0-9]+ Test +#[0-9]+: \S+ \.+\*+(Failed|Exception|Timeout|Not Run))",
        excludes: &[],
        commands: CC,
        catches: "`  2/3 Test #2: parser ...........***Failed    0.01 sec`, `67% tests passed, 1 tests failed out of 3`, `The following tests FAILED:`",
    },
    Entry {
        id: "sanitizer-report",
        tool: "sanitizers",
        severity: Severity::Error,
        regex: r"^(==[0-9]+==ERROR: \w*Sanitizer|WARNING: ThreadSanitizer: |\S+:[0-9]+:[0-9]+: runtime error: )",
        excludes: &[],
        commands: CC,
        catches: "`==123==ERROR: AddressSanitizer: heap-use-after-free`, `WARNING: ThreadSanitizer: data race`, UBSan's `a.c:3:5: runtime error: …`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// gcc, ld and make lines from real runs (gcc 12, GNU make 4.3); CMake,
    /// ninja and sanitizer lines in their documented formats.
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "cc-error",
                    "a.c:2:45: error: 'y' undeclared (first use in this function)",
                    "a.c: In function 'main':",
                ),
                (
                    "cc-error",
                    "cc1: fatal error: nofile.c: No such file or directory",
                    "compilation terminated.",
                ),
                (
                    "cc-error",
                    "d.c:1:10: fatal error: missing.h: No such file or directory",
                    "error_count=0",
                ),
                (
                    "cc-warning",
                    "a.c:2:21: warning: unused variable 'x' [-Wunused-variable]",
                    "a.c:2:45: note: each undeclared identifier is reported only once for each function it appears in",
                ),
                (
                    "ld-undefined-reference",
                    "b.c:(.text+0x5): undefined reference to `foo'",
                    "/usr/bin/ld: /tmp/ccvNzRKL.o: in function `main':",
                ),
                (
                    "ld-error",
                    "collect2: error: ld returned 1 exit status",
                    "gcc -Wall -c a.c -o a.o",
                ),
                (
                    "ld-error",
                    "ld: symbol(s) not found for architecture arm64",
                    "ld: warning: -undefined dynamic_lookup may not work with chained fixups",
                ),
                (
                    "make-error",
                    "make: *** [Makefile:2: all] Error 1",
                    "make: [Makefile:5: clean] Error 1 (ignored)",
                ),
                (
                    "make-error",
                    "make[2]: *** No rule to make target 'nosuch'.  Stop.",
                    "make[1]: Leaving directory '/src'",
                ),
                (
                    "cmake-error",
                    "CMake Error at CMakeLists.txt:3 (find_package):",
                    "-- Check for working C compiler: /usr/bin/cc - skipped",
                ),
                (
                    "cmake-warning",
                    "CMake Warning (dev) at CMakeLists.txt:9 (message):",
                    "-- Configuring done",
                ),
                (
                    "ninja-failed",
                    "FAILED: CMakeFiles/app.dir/main.c.o",
                    "[3/4] Building C object CMakeFiles/app.dir/error.c.o",
                ),
                (
                    "ctest-failed",
                    "    2/3 Test #2: parser ...........................***Failed    0.01 sec",
                    "    1/3 Test #1: failure_paths ....................   Passed    0.01 sec",
                ),
                (
                    "ctest-failed",
                    "67% tests passed, 1 tests failed out of 3",
                    "100% tests passed, 0 tests failed out of 3",
                ),
                (
                    "sanitizer-report",
                    "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010",
                    "==4242==ABORTING",
                ),
            ],
        );
    }
}
