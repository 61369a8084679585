//! The bytes of a report: gunzipped when they start with gzip's magic, cut off past the size
//! limit, with the first bytes kept for format detection and a count of the lines consumed so
//! far (the place an XML error names).

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};

use super::ParseError;

/// How many bytes format detection looks at.
const HEAD: usize = 4096;

/// A reader that fails once more than `left` bytes have been read through it.
struct Limited<'a> {
    inner: Box<dyn Read + 'a>,
    left: u64,
    limit: u64,
    exceeded: bool,
}

impl Read for Limited<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::other(format!(
                "the report is over its limit of {} bytes",
                self.limit
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A report's bytes, buffered; see the module documentation.
pub struct Input<'a> {
    reader: BufReader<Chain<Cursor<Vec<u8>>, Limited<'a>>>,
    head: Vec<u8>,
    lines: u64,
}

impl<'a> Input<'a> {
    /// Wraps `raw`, decompressing gzip, allowing at most `max_bytes` of report.
    pub fn new(raw: impl Read + 'a, max_bytes: u64) -> Result<Self, ParseError> {
        let mut raw = BufReader::new(raw);
        let gzip = raw
            .fill_buf()
            .map_err(|e| ParseError::new(None, format!("cannot read the report: {e}")))?
            .starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn Read + 'a> = if gzip {
            Box::new(flate2::bufread::MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let mut limited = Limited {
            inner,
            left: max_bytes,
            limit: max_bytes,
            exceeded: false,
        };
        let mut head = Vec::with_capacity(HEAD);
        (&mut limited)
            .take(HEAD as u64)
            .read_to_end(&mut head)
            .map_err(|e| ParseError::new(None, format!("cannot read the report: {e}")))?;
        Ok(Input {
            reader: BufReader::with_capacity(64 << 10, Cursor::new(head.clone()).chain(limited)),
            head,
            lines: 0,
        })
    }

    /// The first bytes (up to 4 KiB) of the report.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The size-limit message, when reading stopped there.
    pub fn over_limit(&self) -> Option<String> {
        let limited = self.reader.get_ref().get_ref().1;
        limited
            .exceeded
            .then(|| format!("the report is over its limit of {} bytes", limited.limit))
    }

    /// The 1-based line of the next byte to be read.
    pub fn line(&self) -> u64 {
        self.lines + 1
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.lines += count_newlines(&buf[..n]);
        Ok(n)
    }
}

impl BufRead for Input<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buf) = self.reader.fill_buf() {
            let amount = amount.min(buf.len());
            self.lines += count_newlines(&buf[..amount]);
        }
        self.reader.consume(amount);
    }
}

/// Calls `each` with every line of `input` (without its `\n` or `\r\n`) and its 1-based
/// number, straight from the buffer where the line lies whole in it; stops at the first error.
pub fn for_each_line(
    input: &mut Input<'_>,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), String>,
) -> Result<u64, (u64, String)> {
    let mut number = 0u64;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let buf = match input.reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) => return Err((number + 1, format!("cannot read the report: {e}"))),
        };
        if buf.is_empty() {
            if !carry.is_empty() {
                number += 1;
                each(number, trim_cr(&carry)).map_err(|m| (number, m))?;
            }
            input.lines = number;
            return Ok(number);
        }
        let len = buf.len();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', buf) {
            number += 1;
            let line = if carry.is_empty() {
                &buf[start..end]
            } else {
                carry.extend_from_slice(&buf[start..end]);
                &carry[..]
            };
            each(number, trim_cr(line)).map_err(|m| (number, m))?;
            carry.clear();
            start = end + 1;
        }
        carry.extend_from_slice(&buf[start..]);
        input.reader.consume(len);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The `\n`s in `bytes`, counted in blocks whose count fits in a byte (which the compiler
/// turns into vector code: this runs on every byte an XML report consumes).
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes
        .chunks(255)
        .map(|block| u64::from(block.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>()))
        .sum()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzip_is_opened_and_lines_are_counted() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"SF:a\nDA:1,1\nend_of_record\n").unwrap();
        let bytes = gz.finish().unwrap();
        let mut input = Input::new(&bytes[..], 1 << 20).unwrap();
        assert!(input.head().starts_with(b"SF:a"));
        let mut first = String::new();
        input.read_line(&mut first).unwrap();
        assert_eq!(first, "SF:a\n");
        assert_eq!(input.line(), 2);
        let mut rest = String::new();
        input.read_to_string(&mut rest).unwrap();
        assert_eq!(input.line(), 4);
    }

    #[test]
    fn past_the_limit_reading_fails_and_says_why() {
        // A gzip bomb: 10 MB of zeros in a few KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'0'; 10 << 20]).unwrap();
        let bytes = gz.finish().unwrap();
        let mut input = Input::new(&bytes[..], 1 << 20).unwrap();
        let mut sink = Vec::new();
        assert!(input.read_to_end(&mut sink).is_err());
        assert!(sink.len() <= 1 << 20);
        assert_eq!(
            input.over_limit().as_deref(),
            Some("the report is over its limit of 1048576 bytes")
        );
    }
}
