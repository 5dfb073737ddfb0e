//! The upload page's static files (`web/` at the top of the repository),
//! compiled into the binary: the function serves them itself, so the page
//! comes from the API's own origin (the CSP's `'self'`) with nothing else to
//! deploy or keep in step.

/// One file served at `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The request path (`rawPath`), e.g. `/upload.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The upload page: served with the content security policy built from the
/// configuration (`routes`), not only the common headers.
pub const PAGE: Asset = Asset {
    path: "/",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../../../web/upload.html"),
};

/// The page's script, its styles, and the collector for custom CCPs.
pub const FILES: [Asset; 3] = [
    Asset {
        path: "/upload.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../../web/upload.js"),
    },
    Asset {
        path: "/upload.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../../../web/upload.css"),
    },
    Asset {
        path: "/collector.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../../web/collector.js"),
    },
];

/// The static file (not the page) at `path`.
pub fn file(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|asset| asset.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_embedded_and_found() {
        assert!(
            PAGE.body.contains("/upload.js"),
            "the page loads its script"
        );
        assert!(
            PAGE.body.contains("/upload.css"),
            "the page loads its styles"
        );
        for asset in &FILES {
            assert!(!asset.body.is_empty(), "{}", asset.path);
            assert_eq!(file(asset.path), Some(asset));
        }
        assert_eq!(file("/"), None);
        assert_eq!(file("/upload.html"), None);
        assert_eq!(file("/../Cargo.toml"), None);
    }
}
