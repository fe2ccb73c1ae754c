//! The floor under Vigie: Pingora forwarding every request to one backend and doing nothing
//! else (no routing, no headers, no metrics). `bench/side-by-side.sh` runs it next to Vigie
//! to show what Vigie's own work costs.
//!
//! `cargo run --release -p vigie-bench --example bare_pingora -- LISTEN BACKEND`

#![allow(missing_docs)]

use async_trait::async_trait;
use pingora::prelude::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Bare {
    backend: String,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.backend.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(backend)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_pingora LISTEN BACKEND");
        std::process::exit(2);
    };
    // The same runtime settings as Vigie's defaults, so only Vigie's own work differs.
    let conf = pingora::server::configuration::ServerConf {
        threads: 1,
        work_stealing: false,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Bare { backend });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
