//! Pass-through: the bytes of a stream go out as they arrive — unchanged
//! when plain, or line by line with a prefix (`--fd-prefix`), the line
//! number (`-n`) and error matches highlighted (colour).
//!
//! A [`Destination`] (our stdout or stderr) is shared by the streams that
//! write to it, so decorated lines never interleave. When its reader goes
//! away, pass-through to it stops; reading and matching go on. This module
//! never records or matches anything itself.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};

use super::lock;
use crate::matcher::{Hit, HitKind, StreamMatcher};

/// Where passed-through bytes go: our stdout or stderr. Shared by streams
/// writing to the same place so decorated lines don't interleave.
#[derive(Debug)]
pub struct Destination {
    file: Mutex<Option<File>>,
}

impl Destination {
    /// A destination writing to a duplicate of `fd` (1 or 2).
    pub fn new(file: File) -> Self {
        Destination {
            file: Mutex::new(Some(file)),
        }
    }

    /// Writes all of `bytes`. When the reader went away (EPIPE) or the write
    /// fails, pass-through to this destination stops.
    fn write(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut guard = lock(&self.file);
        if let Some(file) = guard.as_mut()
            && file.write_all(bytes).is_err()
        {
            *guard = None;
        }
    }
}

/// How to show one stream's lines when passing them through.
#[derive(Debug, Clone, Default)]
pub struct Decoration {
    /// A label before each line, e.g. `[stderr] `.
    pub prefix: Option<String>,
    /// `-n`: the line number before each line.
    pub line_numbers: bool,
    /// Highlight error-pattern matches.
    pub color: bool,
}

impl Decoration {
    /// True when lines go out exactly as they came.
    pub fn is_plain(&self) -> bool {
        self.prefix.is_none() && !self.line_numbers && !self.color
    }
}

/// One stream's pass-through.
#[derive(Debug)]
pub(super) struct Passthrough {
    destination: Option<Arc<Destination>>,
    decoration: Decoration,
    /// Decorated output only: the matcher's ranges are highlighted.
    matcher: Arc<StreamMatcher>,
    /// True when some of the current line was already passed through
    /// (decorated output only).
    partial_written: bool,
    /// Decorated output of the current chunk, written at its end.
    out: Vec<u8>,
}

impl Passthrough {
    /// Passes through to `destination` (`None`: `-q`) as `decoration` says.
    pub(super) fn new(
        destination: Option<Arc<Destination>>,
        decoration: Decoration,
        matcher: Arc<StreamMatcher>,
    ) -> Self {
        Passthrough {
            destination,
            decoration,
            matcher,
            partial_written: false,
            out: Vec::new(),
        }
    }

    /// True when output is decorated line by line (so every line must be
    /// seen); false when chunks go out whole.
    pub(super) fn decorated(&self) -> bool {
        !self.decoration.is_plain()
    }

    /// A chunk as it was read: written now when output is plain.
    pub(super) fn chunk(&self, chunk: &[u8]) {
        if !self.decorated()
            && let Some(destination) = &self.destination
        {
            destination.write(chunk);
        }
    }

    /// Decorated output of a partial line (number `line_number`) as it
    /// arrives.
    pub(super) fn partial(&mut self, line_number: u64, bytes: &[u8]) {
        if !self.decorated() || self.destination.is_none() {
            return;
        }
        if !self.partial_written {
            self.line_start(line_number);
        }
        self.out.extend_from_slice(bytes);
        self.partial_written = true;
    }

    /// Decorated output of a complete line.
    pub(super) fn line(&mut self, line_number: u64, line: &[u8], raw: &[u8], hit: Option<Hit>) {
        if !self.decorated() || self.destination.is_none() {
            return;
        }
        if self.partial_written {
            // The start of this line went out already, undecorated by colour.
            self.out.extend_from_slice(raw);
            self.partial_written = false;
            return;
        }
        self.line_start(line_number);
        let ranges = match hit {
            Some(h) if self.decoration.color && h.kind == HitKind::Error => {
                self.matcher.highlight_ranges(line)
            }
            _ => Vec::new(),
        };
        let mut at = 0;
        for (start, end) in ranges {
            if start < at || start == end {
                continue;
            }
            self.out.extend_from_slice(&line[at..start]);
            self.out.extend_from_slice(b"\x1b[1;31m");
            self.out.extend_from_slice(&line[start..end]);
            self.out.extend_from_slice(b"\x1b[0m");
            at = end;
        }
        self.out.extend_from_slice(&raw[at..]);
    }

    fn line_start(&mut self, line_number: u64) {
        if let Some(prefix) = &self.decoration.prefix {
            self.out.extend_from_slice(prefix.as_bytes());
        }
        if self.decoration.line_numbers {
            self.out
                .extend_from_slice(format!("{line_number}:").as_bytes());
        }
    }

    /// Writes the decorated output gathered so far.
    pub(super) fn flush(&mut self) {
        if self.out.is_empty() {
            return;
        }
        if let Some(destination) = &self.destination {
            destination.write(&self.out);
        }
        self.out.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{MatchOptions, SourcedPattern};
    use std::io::{Read, Seek};

    /// A pass-through into a temporary file, and a way to read it back.
    fn passthrough(decoration: Decoration) -> (Passthrough, File) {
        let file = tempfile::tempfile().unwrap();
        let reader = file.try_clone().unwrap();
        let matcher = StreamMatcher::new(
            &[SourcedPattern::new("ERROR", "PATTERN")],
            &[],
            &[],
            MatchOptions::default(),
        )
        .unwrap();
        let p = Passthrough::new(
            Some(Arc::new(Destination::new(file))),
            decoration,
            Arc::new(matcher),
        );
        (p, reader)
    }

    fn written(mut file: File) -> String {
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn plain_output_is_the_chunks_unchanged() {
        let (mut p, file) = passthrough(Decoration::default());
        p.chunk(b"a\nhalf");
        p.partial(2, b"half");
        p.line(1, b"a", b"a\n", None);
        p.flush();
        p.chunk(b" line\n");
        assert_eq!(written(file), "a\nhalf line\n");
    }

    #[test]
    fn decorated_lines_get_prefix_number_and_colour_and_a_split_line_one_prefix() {
        let (mut p, file) = passthrough(Decoration {
            prefix: Some("[stderr] ".into()),
            line_numbers: true,
            color: true,
        });
        p.chunk(b"ignored when decorated");
        let hit = Hit {
            kind: HitKind::Error,
            start: 3,
            end: 8,
        };
        p.line(1, b"an ERROR", b"an ERROR\n", Some(hit));
        p.partial(2, b"sp");
        p.partial(2, b"lit");
        p.line(2, b"split", b"\n", None);
        p.flush();
        assert_eq!(
            written(file),
            "[stderr] 1:an \x1b[1;31mERROR\x1b[0m\n[stderr] 2:split\n"
        );
    }
}
