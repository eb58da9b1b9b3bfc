//! Streams Keeper events from a JSON array or JSON lines, one event at a time, with the line each started on.

use std::io::BufRead;

/// One event as read: its line in the input, and its bytes or why they are not an event.
#[derive(Debug)]
pub struct RawEvent {
    pub line: usize,
    /// The event, ready to send (with `TimeGenerated`), or why it is not one.
    pub parsed: Result<Vec<u8>, String>,
}

/// Where the array scanner stands between buffer refills.
#[derive(Debug, Default)]
struct Scan {
    depth: i32,
    in_str: bool,
    esc: bool,
}

/// Reads events from a JSON array (`[ {...}, {...} ]`) or from JSON lines, detected by the first byte,
/// without holding more than one event in memory.
pub struct EventReader<R: BufRead> {
    input: R,
    line: usize,
    mode: Mode,
    done: bool,
    scan: Scan,
}

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Unknown,
    Array,
    Lines,
}

impl<R: BufRead> EventReader<R> {
    pub fn new(input: R) -> Self {
        EventReader {
            input,
            line: 1,
            mode: Mode::Unknown,
            done: false,
            scan: Scan::default(),
        }
    }

    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let b = match self.input.fill_buf()?.first() {
            Some(&b) => b,
            None => return Ok(None),
        };
        self.input.consume(1);
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    fn peek_nonspace(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let buf = self.input.fill_buf()?;
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            if b.is_ascii_whitespace() {
                self.byte()?;
            } else {
                return Ok(Some(b));
            }
        }
    }

    /// The next element of a top-level array: bytes up to the ',' or ']' at depth 0, strings respected.
    /// Scans the reader's buffer a chunk at a time: this is the hot loop of `send`.
    fn next_array_element(&mut self) -> std::io::Result<Option<RawEvent>> {
        let start_line = match self.peek_nonspace()? {
            None => return Ok(None),
            Some(b']') => {
                self.done = true;
                return Ok(None);
            }
            Some(_) => self.line,
        };
        let mut text = Vec::new();
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                self.done = true;
                return Ok(Some(RawEvent {
                    line: start_line,
                    parsed: Err("the array is not closed".into()),
                }));
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if self.scan.in_str {
                    if self.scan.esc {
                        self.scan.esc = false;
                    } else if b == b'\\' {
                        self.scan.esc = true;
                    } else if b == b'"' {
                        self.scan.in_str = false;
                    }
                    continue;
                }
                match b {
                    b'\n' => self.line += 1,
                    b'"' => self.scan.in_str = true,
                    b'{' | b'[' => self.scan.depth += 1,
                    b'}' | b']' if self.scan.depth > 0 => self.scan.depth -= 1,
                    b']' => {
                        end = Some((i, true));
                        break;
                    }
                    b',' if self.scan.depth == 0 => {
                        end = Some((i, false));
                        break;
                    }
                    _ => {}
                }
            }
            match end {
                Some((i, closed)) => {
                    text.extend_from_slice(&buf[..i]);
                    self.input.consume(i + 1);
                    self.done = closed;
                    break;
                }
                None => {
                    let n = buf.len();
                    text.extend_from_slice(buf);
                    self.input.consume(n);
                }
            }
        }
        let parsed = parse_event(text);
        Ok(Some(RawEvent {
            line: start_line,
            parsed,
        }))
    }

    fn next_line(&mut self) -> std::io::Result<Option<RawEvent>> {
        loop {
            let mut text = Vec::new();
            let n = self.input.read_until(b'\n', &mut text)?;
            if n == 0 {
                return Ok(None);
            }
            let line = self.line;
            self.line += 1;
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            while text.last().is_some_and(u8::is_ascii_whitespace) {
                text.pop();
            }
            let parsed = parse_event(text);
            return Ok(Some(RawEvent { line, parsed }));
        }
    }
}

/// What `send` needs to know of an event without building it: whether it has `TimeGenerated`, and its `timestamp`.
#[derive(serde::Deserialize)]
struct Probe<'a> {
    #[serde(rename = "TimeGenerated")]
    time_generated: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    timestamp: Option<&'a serde_json::value::RawValue>,
}

/// Checks that `text` is one JSON object and returns it ready to send: unchanged, or with `TimeGenerated`
/// set from `timestamp` where it is missing (the table requires it). The event is never rebuilt, only spliced.
fn parse_event(text: Vec<u8>) -> Result<Vec<u8>, String> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    if start.map(|i| text[i]) != Some(b'{') {
        return Err("not a JSON object".into());
    }
    let probe: Probe = serde_json::from_slice(&text).map_err(|e| format!("malformed JSON: {e}"))?;
    match (probe.time_generated, probe.timestamp) {
        (None, Some(ts)) => {
            let open = start.unwrap_or(0);
            let rest = &text[open + 1..];
            let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
            let mut out = Vec::with_capacity(text.len() + ts.get().len() + 20);
            out.extend_from_slice(b"{\"TimeGenerated\":");
            out.extend_from_slice(ts.get().as_bytes());
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(rest);
            Ok(out)
        }
        _ => Ok(text),
    }
}

impl<R: BufRead> Iterator for EventReader<R> {
    type Item = std::io::Result<RawEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.mode == Mode::Unknown {
            match self.peek_nonspace() {
                Ok(Some(b'[')) => {
                    if let Err(e) = self.byte() {
                        return Some(Err(e));
                    }
                    self.mode = Mode::Array;
                }
                Ok(Some(_)) => self.mode = Mode::Lines,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        let r = if self.mode == Mode::Array {
            self.next_array_element()
        } else {
            self.next_line()
        };
        r.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Vec<(usize, Result<serde_json::Value, String>)> {
        EventReader::new(std::io::Cursor::new(s.as_bytes().to_vec()))
            .map(|r| r.expect("io"))
            .map(|e| {
                (
                    e.line,
                    e.parsed
                        .map(|b| serde_json::from_slice(&b).expect("what is sent is JSON")),
                )
            })
            .collect()
    }

    #[test]
    fn reads_an_array_with_nested_values_and_strings_holding_brackets() {
        let got = read("[\n {\"a\": \"x,]}\", \"d\": {\"k\": [1,2]}},\n {\"a\": 2}\n]\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 2);
        assert_eq!(
            got[0].1.as_ref().ok().and_then(|v| v["a"].as_str()),
            Some("x,]}")
        );
        assert_eq!(got[1].0, 3);
    }

    #[test]
    fn reads_json_lines_and_reports_the_malformed_line() {
        let got = read("{\"a\":1}\n\n{oops}\n{\"a\":3}\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].0, 3);
        assert!(got[1].1.is_err());
        assert_eq!(got[2].0, 4);
    }

    #[test]
    fn time_generated_comes_from_timestamp_when_missing_and_is_kept_when_present() {
        let got = read("{\"timestamp\": \"2025-01-23T01:31:11.123Z\", \"a\": 1}\n{\"TimeGenerated\": \"x\", \"timestamp\": \"y\"}\n{\"timestamp\": 5}\n[1, 2]\n");
        let first = got[0].1.as_ref().expect("event");
        assert_eq!(first["TimeGenerated"], "2025-01-23T01:31:11.123Z");
        assert_eq!(first["a"], 1);
        assert_eq!(got[1].1.as_ref().expect("event")["TimeGenerated"], "x");
        assert_eq!(got[2].1.as_ref().expect("event")["TimeGenerated"], 5);
        assert!(got[3].1.is_err(), "an array is not an event");
    }
}
