//! `vigie check`: a one-line summary per listener, upstream and route of a valid config.

use std::fmt::Write as _;

use crate::config::Config;
use crate::config::file::Balancing;
use crate::routing::HostPattern;

/// The summary printed by `vigie check`.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    for l in &config.listeners {
        let scheme = if l.tls.is_some() { "https" } else { "http" };
        let _ = writeln!(out, "listener {}: {scheme}://{}", l.name, l.address);
    }
    let _ = writeln!(out, "admin: http://{}", config.admin.address);
    for (name, u) in &config.upstreams {
        let balancing = match u.balancing {
            Balancing::RoundRobin => "round_robin",
            Balancing::ConsistentHash => "consistent_hash",
        };
        let addrs: Vec<String> = u.addresses().map(|a| a.to_string()).collect();
        let check = u
            .health_check
            .as_ref()
            .map_or("no health check".to_string(), |h| {
                format!("health check every {:?}", h.interval)
            });
        let tls = if u.tls.is_some() { ", https" } else { "" };
        let _ = writeln!(
            out,
            "upstream {name}: {balancing}{tls}, {} backend(s) [{}], {check}",
            addrs.len(),
            addrs.join(", ")
        );
    }
    for r in &config.routes {
        let hosts = if r.hosts.is_empty() {
            "*".to_string()
        } else {
            r.hosts
                .iter()
                .map(|h| match h {
                    HostPattern::Exact(h) => h.clone(),
                    HostPattern::Wildcard(s) => format!("*{s}"),
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let rewrite = r
            .rewrite_prefix
            .as_ref()
            .map_or(String::new(), |p| format!(" (rewritten to {p})"));
        let plugins = if r.plugins.is_empty() {
            String::new()
        } else {
            format!(", plugins {}", r.plugins.join(" > "))
        };
        let _ = writeln!(
            out,
            "route {}: {hosts}{}{rewrite} -> {}{plugins}",
            r.name, r.path_prefix, r.upstream
        );
    }
    for (name, p) in &config.plugins {
        let info = &p.plugin.info;
        let fail = match info.fail {
            crate::plugins::FailMode::Closed => "fails closed",
            crate::plugins::FailMode::Open => "fails open",
        };
        let _ = writeln!(
            out,
            "plugin {name}: {} ({} bytes of configuration), {fail}, {} MiB, {} ms per call",
            p.module_path.display(),
            info.config.len(),
            info.limits.memory >> 20,
            info.limits.call_timeout.as_millis()
        );
    }
    out
}
