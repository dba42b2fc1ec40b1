//! Text encodings of exported files: UTF-8 (with or without BOM) and
//! GB18030/GBK, the encoding Excel on a Chinese Windows saves "CSV" in.

use encoding_rs::GB18030;

/// The encoding to read a text file in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EncodingChoice {
    /// Detect: UTF-8 when the start of the file is valid UTF-8, else GB18030.
    #[default]
    Auto,
    /// UTF-8.
    Utf8,
    /// GB18030 (a superset of GBK and GB2312).
    Gb18030,
}

impl EncodingChoice {
    /// Parses `auto`, `utf-8`/`utf8`, `gb18030`/`gbk`/`gb2312`.
    pub fn parse(text: &str) -> Option<EncodingChoice> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "auto" => Some(EncodingChoice::Auto),
            "utf-8" | "utf8" => Some(EncodingChoice::Utf8),
            "gb18030" | "gbk" | "gb2312" | "cp936" => Some(EncodingChoice::Gb18030),
            _ => None,
        }
    }
}

/// The encoding a file was found to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8; `checked` when detected, so invalid bytes later on are an error
    /// rather than garbage in the report.
    Utf8,
    /// GB18030.
    Gb18030,
}

/// UTF-8 byte order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decides the encoding from the first block of a file (BOM already stripped).
pub fn detect(choice: EncodingChoice, head: &[u8]) -> TextEncoding {
    match choice {
        EncodingChoice::Utf8 => TextEncoding::Utf8,
        EncodingChoice::Gb18030 => TextEncoding::Gb18030,
        EncodingChoice::Auto => match std::str::from_utf8(head) {
            Ok(_) => TextEncoding::Utf8,
            // Only a character cut at the end of the block: still UTF-8.
            Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
            Err(_) => TextEncoding::Gb18030,
        },
    }
}

/// Whether the block starts with a UTF-16 byte order mark.
pub fn is_utf16(head: &[u8]) -> bool {
    head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF")
}

/// Decodes a GB18030 block to UTF-8. Splitting a GB18030 file at a newline is
/// safe: 0x0A and 0x22 never occur inside a multi-byte character.
pub fn decode_gb18030(bytes: &[u8]) -> (String, bool) {
    let (text, had_errors) = GB18030.decode_without_bom_handling(bytes);
    (text.into_owned(), had_errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_gbk_and_utf8() {
        let (gbk, _, _) = GB18030.encode("区域,推荐意愿\n华东,9\n");
        assert_eq!(detect(EncodingChoice::Auto, &gbk), TextEncoding::Gb18030);
        assert_eq!(
            detect(EncodingChoice::Auto, "区域,推荐意愿\n".as_bytes()),
            TextEncoding::Utf8
        );
        // A block that ends in the middle of a UTF-8 character is still UTF-8.
        let cut = &"华东".as_bytes()[..4];
        assert_eq!(detect(EncodingChoice::Auto, cut), TextEncoding::Utf8);
        assert_eq!(decode_gb18030(&gbk).0, "区域,推荐意愿\n华东,9\n");
        assert_eq!(EncodingChoice::parse("GBK"), Some(EncodingChoice::Gb18030));
        assert_eq!(EncodingChoice::parse("latin1"), None);
    }
}
