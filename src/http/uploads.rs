//! What the Mini App accepts as a file: a short list of image and document types, each checked
//! by its extension, the type the browser declared and, where the format has one, its magic
//! bytes — a program renamed to `photo.png` is refused, not passed on to staff.

/// One accepted kind of file.
struct Kind {
    content_type: &'static str,
    extensions: &'static [&'static str],
    /// What the file must start with; empty when the format has no reliable signature.
    magic: &'static [&'static [u8]],
}

const ZIP: &[&[u8]] = &[b"PK\x03\x04", b"PK\x05\x06"];
const OLE: &[&[u8]] = &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"];

const KINDS: &[Kind] = &[
    Kind {
        content_type: "image/jpeg",
        extensions: &["jpg", "jpeg"],
        magic: &[b"\xFF\xD8\xFF"],
    },
    Kind {
        content_type: "image/png",
        extensions: &["png"],
        magic: &[b"\x89PNG\r\n\x1A\n"],
    },
    Kind {
        content_type: "image/gif",
        extensions: &["gif"],
        magic: &[b"GIF87a", b"GIF89a"],
    },
    Kind {
        content_type: "image/webp",
        extensions: &["webp"],
        magic: &[b"RIFF"],
    },
    Kind {
        content_type: "image/heic",
        extensions: &["heic", "heif"],
        magic: &[],
    },
    Kind {
        content_type: "application/pdf",
        extensions: &["pdf"],
        magic: &[b"%PDF-"],
    },
    Kind {
        content_type: "text/plain",
        extensions: &["txt", "log"],
        magic: &[],
    },
    Kind {
        content_type: "text/csv",
        extensions: &["csv"],
        magic: &[],
    },
    Kind {
        content_type: "application/rtf",
        extensions: &["rtf"],
        magic: &[b"{\\rtf"],
    },
    Kind {
        content_type: "application/zip",
        extensions: &["zip"],
        magic: ZIP,
    },
    Kind {
        content_type: "application/msword",
        extensions: &["doc"],
        magic: OLE,
    },
    Kind {
        content_type: "application/vnd.ms-excel",
        extensions: &["xls"],
        magic: OLE,
    },
    Kind {
        content_type: "application/vnd.ms-powerpoint",
        extensions: &["ppt"],
        magic: OLE,
    },
    Kind {
        content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        extensions: &["docx"],
        magic: ZIP,
    },
    Kind {
        content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        extensions: &["xlsx"],
        magic: ZIP,
    },
    Kind {
        content_type: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        extensions: &["pptx"],
        magic: ZIP,
    },
    Kind {
        content_type: "application/vnd.oasis.opendocument.text",
        extensions: &["odt"],
        magic: ZIP,
    },
    Kind {
        content_type: "application/vnd.oasis.opendocument.spreadsheet",
        extensions: &["ods"],
        magic: ZIP,
    },
];

/// The form's limits, sent to the app so it can refuse early, and enforced here.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Limits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub subject_max: usize,
    pub description_max: usize,
}

impl Limits {
    /// The chat's file limits, within what its helpdesk takes: the Bot API's own download limit
    /// is 20 MB a file, and the helpdesk may accept less.
    pub fn for_chat(
        files: crate::config::FileLimits,
        attachment: bool,
        attachment_max_size: Option<u64>,
    ) -> Self {
        const TWENTY_MB: u64 = 20 * 1024 * 1024;
        Self {
            max_files: if attachment { files.max_count } else { 0 },
            max_file_bytes: attachment_max_size
                .map_or(TWENTY_MB, |max| max.min(TWENTY_MB))
                .min(files.max_bytes),
            max_total_bytes: files.max_bytes,
            subject_max: 255,
            description_max: 10_000,
        }
    }

    /// The largest request body a submission can need: every file plus the text fields and
    /// multipart framing.
    pub fn body_limit(&self) -> usize {
        let files = if self.max_files == 0 {
            0
        } else {
            self.max_total_bytes
        };
        usize::try_from(files + 1024 * 1024).unwrap_or(usize::MAX)
    }
}

/// Every accepted type and extension (`.pdf`), for the file input's `accept`.
pub fn accept_list() -> Vec<String> {
    let mut list: Vec<String> = KINDS.iter().map(|k| k.content_type.to_owned()).collect();
    list.extend(
        KINDS
            .iter()
            .flat_map(|k| k.extensions.iter().map(|e| format!(".{e}"))),
    );
    list
}

/// Why a file was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// The extension is not on the list.
    Type,
    /// The browser declared another type than the extension's.
    TypeMismatch,
    /// The content is not what the extension says.
    Content,
}

/// The content type to hand the helpdesk for an accepted file.
pub fn check(
    file_name: &str,
    declared: Option<&str>,
    bytes: &[u8],
) -> Result<&'static str, FileProblem> {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .ok_or(FileProblem::Type)?;
    let kind = KINDS
        .iter()
        .find(|k| k.extensions.contains(&extension.as_str()))
        .ok_or(FileProblem::Type)?;
    // Browsers send an empty type, or octet-stream, for types the OS does not know; both say
    // nothing, so the extension and the content decide.
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    if let Some(declared) = declared
        && declared != kind.content_type
        && !equivalent(&declared, kind.content_type)
    {
        return Err(FileProblem::TypeMismatch);
    }
    if !kind.magic.is_empty() && !kind.magic.iter().any(|m| bytes.starts_with(m)) {
        return Err(FileProblem::Content);
    }
    if kind.content_type == "image/webp" && bytes.get(8..12) != Some(b"WEBP".as_slice()) {
        return Err(FileProblem::Content);
    }
    Ok(kind.content_type)
}

/// Other spellings browsers and systems use for the same types.
fn equivalent(declared: &str, canonical: &str) -> bool {
    matches!(
        (declared, canonical),
        ("image/jpg" | "image/pjpeg", "image/jpeg")
            | ("application/x-zip-compressed", "application/zip")
            | ("text/x-log", "text/plain")
            | ("application/vnd.ms-excel", "text/csv")
            | ("text/rtf", "application/rtf")
            | ("image/heif", "image/heic")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR";

    #[test]
    fn accepts_listed_types_by_extension_declared_type_and_content() {
        assert_eq!(check("screen.PNG", Some("image/png"), PNG), Ok("image/png"));
        assert_eq!(check("screen.png", None, PNG), Ok("image/png"));
        assert_eq!(
            check("screen.png", Some("application/octet-stream"), PNG),
            Ok("image/png")
        );
        assert_eq!(
            check("a.jpg", Some("image/jpg"), b"\xFF\xD8\xFF\xE0"),
            Ok("image/jpeg")
        );
        assert_eq!(
            check("report.pdf", Some("application/pdf"), b"%PDF-1.7"),
            Ok("application/pdf")
        );
        assert_eq!(check("errors.log", Some(""), b"anything"), Ok("text/plain"));
        assert_eq!(
            check("t.xlsx", None, b"PK\x03\x04..."),
            Ok(KINDS[14].content_type)
        );
        assert_eq!(
            check("p.webp", None, b"RIFF\0\0\0\0WEBPVP8 "),
            Ok("image/webp")
        );
    }

    #[test]
    fn refuses_unlisted_disguised_and_mislabelled_files() {
        assert_eq!(
            check("tool.exe", Some("application/x-msdownload"), b"MZ"),
            Err(FileProblem::Type)
        );
        assert_eq!(
            check("noextension", Some("image/png"), PNG),
            Err(FileProblem::Type)
        );
        assert_eq!(
            check("photo.png", Some("image/png"), b"MZ\x90\0"),
            Err(FileProblem::Content)
        );
        assert_eq!(
            check("photo.png", Some("text/html"), PNG),
            Err(FileProblem::TypeMismatch)
        );
        assert_eq!(
            check("a.webp", None, b"RIFF\0\0\0\0WAVEfmt "),
            Err(FileProblem::Content)
        );
        assert_eq!(
            check("a.docx", None, b"\xD0\xCF\x11\xE0"),
            Err(FileProblem::Content)
        );
    }

    #[test]
    fn limits_follow_the_chat_and_the_helpdesk() {
        use crate::config::FileLimits;
        let default = FileLimits::DEFAULT;
        let limits = Limits::for_chat(default, true, None);
        assert_eq!(limits.max_file_bytes, 20 * 1024 * 1024);
        assert_eq!(limits.max_files, 10);
        assert_eq!(limits.max_total_bytes, 50 * 1024 * 1024);
        assert_eq!(
            Limits::for_chat(default, true, Some(1024)).max_file_bytes,
            1024
        );
        assert_eq!(Limits::for_chat(default, false, None).max_files, 0);
        assert_eq!(
            Limits::for_chat(default, false, None).body_limit(),
            1024 * 1024
        );
        let small = FileLimits {
            max_count: 2,
            max_bytes: 5000,
        };
        let limits = Limits::for_chat(small, true, None);
        assert_eq!(
            (
                limits.max_files,
                limits.max_file_bytes,
                limits.max_total_bytes
            ),
            (2, 5000, 5000)
        );
        assert_eq!(limits.body_limit(), 5000 + 1024 * 1024);
        let accept = accept_list();
        assert!(accept.contains(&"image/png".to_owned()) && accept.contains(&".docx".to_owned()));
    }
}
