//! Replays a peak day on one machine against a `vigie` binary; prints a Markdown report.
//!
//! ```text
//! scenario rentree [--vigie PATH] [--base-rate 100] [--peak-factor 10] [--calm 10] [--ramp 60]
//!                  [--hold 20] [--sessions 1000] [--threads 1] [--cpus 0]
//! scenario spray   [--vigie PATH] [--browse-rate 200] [--spray-rate 1000] [--calm 10]
//!                  [--spray 20] [--sessions 1000] [--threads 1] [--cpus 0]
//! ```
//!
//! The load generator, the demo upstream and the development FranceConnect run in this
//! process (pin it with `taskset` to other CPUs than `--cpus`, which Vigie is pinned to).

#![allow(missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vigie_load_tests::scenario::{Stack, StackSettings, rentree, spray};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((which, rest)) = args.split_first() else {
        usage("name a scenario: rentree or spray");
    };
    let mut opts: HashMap<String, String> = HashMap::new();
    for pair in rest.chunks(2) {
        match pair {
            [k, v] if k.starts_with("--") => {
                opts.insert(k[2..].to_string(), v.clone());
            }
            _ => usage(&format!("options come as --name value: {pair:?}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| usage(&format!("no runtime: {e}")));
    let report = runtime.block_on(run(which, &opts));
    match report {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("scenario failed: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(which: &str, opts: &HashMap<String, String>) -> Result<String, String> {
    let num = |name: &str, default: f64| -> f64 {
        opts.get(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("--{name} takes a number, not {v:?}")))
        })
    };
    let secs = |name: &str, default: f64| Duration::from_secs_f64(num(name, default));
    let vigie = opts.get("vigie").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        PathBuf::from(target).join("release/vigie")
    });
    let mut stack = StackSettings {
        vigie,
        threads: num("threads", 1.0) as usize,
        // `--cpus ""` leaves Vigie unpinned.
        cpus: match opts.get("cpus").map(String::as_str) {
            Some("") => None,
            Some(cpus) => Some(cpus.to_string()),
            None => Some("0".into()),
        },
        waiting_room: String::new(),
        educonnect_room: String::new(),
        extra: String::new(),
        routes: String::new(),
    };
    let sessions = num("sessions", 1000.0) as usize;
    match which {
        "rentree" => {
            let s = rentree::Settings {
                base_rate: num("base-rate", 100.0),
                peak_factor: num("peak-factor", 10.0),
                calm: secs("calm", 10.0),
                ramp: secs("ramp", 60.0),
                hold: secs("hold", 20.0),
                login_share: 0.1,
                abandon_share: 0.1,
            };
            stack.waiting_room = s.waiting_room();
            stack.educonnect_room = s.waiting_room();
            let stack = Stack::start(stack).await?;
            let cookies = Arc::new(stack.make_sessions(sessions).await?);
            stack.close_the_gates().await?;
            Ok(format!(
                "## Rentrée morning\n\n{s:?}\n\n{}",
                rentree::run(&stack, &s, cookies).await.report
            ))
        }
        "spray" => {
            let s = spray::Settings {
                browse_rate: num("browse-rate", 200.0),
                spray_rate: num("spray-rate", 1000.0),
                calm: secs("calm", 10.0),
                spray: secs("spray", 20.0),
                sprayers: 20,
            };
            stack.waiting_room = "{ admission_rate: 1000/s }".into();
            stack.educonnect_room = stack.waiting_room.clone();
            stack.extra = spray::RATE_LIMITS.into();
            stack.routes = spray::API_ROUTE.into();
            let stack = Stack::start(stack).await?;
            let cookies = Arc::new(stack.make_sessions(sessions).await?);
            Ok(format!(
                "## Token spray\n\n{s:?}\n\n{}",
                spray::run(&stack, &s, cookies).await.report
            ))
        }
        other => usage(&format!("unknown scenario {other:?}: rentree or spray")),
    }
}

fn usage(why: &str) -> ! {
    eprintln!(
        "{why}\nusage: scenario rentree|spray [--vigie PATH] [--cpus LIST] [--threads N] [--sessions N] ..."
    );
    std::process::exit(2)
}
