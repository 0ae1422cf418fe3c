//! Static files embedded in a service's binary (the dashboard, the operator
//! page, the browser SDK): no web server or CDN beside the services, and a
//! page can never be out of step with the API it calls. Each file is gzipped
//! and given an ETag once, when the service starts; a request with the ETag
//! gets 304.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

/// One embedded file: where it is served and its bytes (`include_bytes!`).
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub body: &'static [u8],
}

/// What the admin dashboard and the operator page share, served at
/// `/assets/…` by the services that have pages: the helpers, the look, and
/// uPlot (MIT, vendored with its licence: no network at run time).
pub const PAGE_KIT: &[Asset] = &[
    Asset {
        path: "/assets/kit.js",
        body: include_bytes!("../web/kit.js"),
    },
    Asset {
        path: "/assets/kit.css",
        body: include_bytes!("../web/kit.css"),
    },
    Asset {
        path: "/assets/uPlot.iife.min.js",
        body: include_bytes!("../web/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "/assets/uPlot.min.css",
        body: include_bytes!("../web/vendor/uPlot.min.css"),
    },
    Asset {
        path: "/assets/uPlot-LICENSE.txt",
        body: include_bytes!("../web/vendor/uPlot-LICENSE.txt"),
    },
    // Linked by every page, so no browser asks for a /favicon.ico (a 404).
    Asset {
        path: "/assets/favicon.svg",
        body: include_bytes!("../web/favicon.svg"),
    },
];

/// The interactive API page every service serves at `/docs/` (Swagger UI
/// 5.35.0, Apache 2.0, vendored with its licence and notices: no network
/// at run time) on the service's own `/openapi.json`.
const DOCS_PAGE: &[Asset] = &[
    Asset {
        path: "/docs/",
        body: include_bytes!("../web/docs/index.html"),
    },
    Asset {
        path: "/docs/docs.js",
        body: include_bytes!("../web/docs/docs.js"),
    },
    Asset {
        path: "/docs/swagger-ui-bundle.js",
        body: include_bytes!("../web/vendor/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        path: "/docs/swagger-ui.css",
        body: include_bytes!("../web/vendor/swagger-ui/swagger-ui.css"),
    },
    Asset {
        path: "/docs/LICENSE.txt",
        body: include_bytes!("../web/vendor/swagger-ui/LICENSE"),
    },
    Asset {
        path: "/docs/NOTICE.txt",
        body: include_bytes!("../web/vendor/swagger-ui/NOTICE"),
    },
    Asset {
        path: "/docs/THIRD-PARTY.txt",
        body: include_bytes!("../web/vendor/swagger-ui/swagger-ui-bundle.js.LICENSE.txt"),
    },
    Asset {
        path: "/docs/favicon.svg",
        body: include_bytes!("../web/favicon.svg"),
    },
];

/// Who may use a set of files, which decides the headers they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Pages of this service: a strict Content-Security-Policy (scripts,
    /// styles and connections, WebSockets included, to this origin only),
    /// never framed; revalidated on every load so an upgrade shows at once.
    Pages,
    /// A script other sites load (the SDK): any origin may fetch it (module
    /// scripts are fetched with CORS) and caches may keep it for a week.
    AnyOrigin,
}

const PAGE_POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

struct Prepared {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// Cheap to clone into each response; made at the first request that
    /// takes it, so a service starts without compressing what nobody asks
    /// for (the docs page's 1.7 MB script).
    gzip: OnceLock<Option<web::Bytes>>,
    etag: OnceLock<String>,
}

impl Prepared {
    fn gzip(&self) -> Option<&web::Bytes> {
        self.gzip
            .get_or_init(|| {
                gzip(self.body)
                    .filter(|g| g.len() < self.body.len())
                    .map(web::Bytes::from)
            })
            .as_ref()
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| etag(self.body))
    }
}

/// A set of embedded files served under their paths.
pub struct Assets {
    audience: Audience,
    files: Vec<Arc<Prepared>>,
    /// A page's root (`/ops/`): its path without the slash redirects here.
    root: Option<&'static str>,
}

impl Assets {
    pub fn new(audience: Audience, files: &[Asset]) -> Self {
        let files = files
            .iter()
            .map(|asset| {
                Arc::new(Prepared {
                    path: asset.path,
                    content_type: content_type(asset.path),
                    body: asset.body,
                    gzip: OnceLock::new(),
                    etag: OnceLock::new(),
                })
            })
            .collect();
        Assets {
            audience,
            files,
            root: None,
        }
    }

    /// A page served at `root` (ending in `/`; its own files are under it)
    /// with the shared [`PAGE_KIT`]; `root` without its slash redirects.
    pub fn page(root: &'static str, files: &[Asset]) -> Self {
        let all: Vec<Asset> = files.iter().chain(PAGE_KIT).copied().collect();
        Assets {
            root: Some(root),
            ..Assets::new(Audience::Pages, &all)
        }
    }

    /// The API page at `/docs/` (see [`DOCS_PAGE`]).
    pub fn docs() -> Self {
        Assets {
            root: Some("/docs/"),
            ..Assets::new(Audience::Pages, DOCS_PAGE)
        }
    }

    /// Registers a GET route for every file (and the page's redirect).
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        if let Some(root) = self.root {
            cfg.service(redirect(root.trim_end_matches('/'), root));
        }
        for file in &self.files {
            let (file, audience) = (file.clone(), self.audience);
            cfg.service(crate::http::resource(file.path, "GET").route(web::get().to(
                move |req: HttpRequest| {
                    let file = file.clone();
                    async move { respond(&file, audience, &req) }
                },
            )));
        }
    }
}

/// `from` (a page's path without its slash) sends the browser to `to`.
fn redirect(from: &str, to: &'static str) -> actix_web::Resource {
    crate::http::resource(from, "GET").route(web::get().to(move || async move {
        HttpResponse::Found()
            .insert_header((header::LOCATION, to))
            .finish()
    }))
}

fn respond(file: &Prepared, audience: Audience, req: &HttpRequest) -> HttpResponse {
    let unchanged = matches_etag(req, file.etag());
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, file.etag()))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    match audience {
        Audience::Pages => res
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_POLICY))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::REFERRER_POLICY, "no-referrer")),
        Audience::AnyOrigin => res
            .insert_header((header::CACHE_CONTROL, "public, max-age=604800"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header(("Cross-Origin-Resource-Policy", "cross-origin")),
    };
    if unchanged {
        return res.finish();
    }
    res.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    ));
    match file.gzip() {
        Some(gz) if accepts_gzip(req) => res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gz.clone()),
        _ => res.body(file.body),
    }
}

fn matches_etag(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

/// A strong ETag: the first 128 bits of the body's SHA-256.
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "text/html; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;

    const FILES: &[Asset] = &[
        Asset {
            path: "/p/",
            body: b"<!doctype html><title>t</title><p>hello hello hello hello hello hello</p>",
        },
        Asset {
            path: "/p/app.js",
            body: b"export const x = 1;",
        },
    ];

    async fn get(
        audience: Audience,
        path: &str,
        headers: &[(&str, &str)],
    ) -> actix_web::dev::ServiceResponse {
        let assets = Assets::new(audience, FILES);
        let app =
            test::init_service(actix_web::App::new().configure(|c| assets.configure(c))).await;
        let mut req = test::TestRequest::get().uri(path);
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        test::call_service(&app, req.to_request()).await
    }

    fn header<'a>(res: &'a actix_web::dev::ServiceResponse, name: &str) -> &'a str {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[actix_web::test]
    async fn pages_carry_their_type_policy_and_etag_and_gzip_when_asked() {
        let res = get(Audience::Pages, "/p/", &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&res, "content-encoding"), "gzip");
        assert_eq!(header(&res, "cache-control"), "no-cache");
        assert!(header(&res, "content-security-policy").contains("script-src 'self'"));
        let etag = header(&res, "etag").to_string();
        assert_eq!(etag.len(), 34);
        let again = get(Audience::Pages, "/p/", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304);
        let plain = get(Audience::Pages, "/p/", &[("accept-encoding", "gzip;q=0")]).await;
        assert_eq!(header(&plain, "content-encoding"), "");
        let body = test::read_body(plain).await;
        assert_eq!(&body[..], FILES[0].body);
    }

    #[actix_web::test]
    async fn a_script_for_any_origin_may_be_fetched_cross_origin_and_kept() {
        let res = get(Audience::AnyOrigin, "/p/app.js", &[]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            header(&res, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header(&res, "access-control-allow-origin"), "*");
        assert_eq!(header(&res, "cache-control"), "public, max-age=604800");
        // Too small to gain from gzip: served as it is.
        let res = get(
            Audience::AnyOrigin,
            "/p/app.js",
            &[("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(header(&res, "content-encoding"), "");
    }
}
