//! Host functions called with invalid arguments through raw imports (the SDK's wrappers
//! would panic first), for `/t/bad`.

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_log(level: u32, ptr: *const u8, len: usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        k: *const u8,
        kl: usize,
        v: *mut *mut u8,
        vl: *mut usize,
    ) -> u32;
    fn proxy_set_header_map_pairs(map: u32, p: *const u8, l: usize) -> u32;
    fn proxy_add_header_map_value(
        map: u32,
        k: *const u8,
        kl: usize,
        v: *const u8,
        vl: usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(
        b: u32,
        start: usize,
        max: usize,
        p: *mut *mut u8,
        l: *mut usize,
    ) -> u32;
    fn proxy_set_effective_context(id: u32) -> u32;
    fn proxy_get_property(p: *const u8, l: usize, v: *mut *mut u8, vl: *mut usize) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_get_shared_data(
        k: *const u8,
        kl: usize,
        v: *mut *mut u8,
        vl: *mut usize,
        cas: *mut u32,
    ) -> u32;
    fn proxy_dequeue_shared_queue(q: u32, v: *mut *mut u8, vl: *mut usize) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_define_metric(t: u32, n: *const u8, nl: usize, id: *mut u32) -> u32;
    fn proxy_call_foreign_function(
        n: *const u8,
        nl: usize,
        a: *const u8,
        al: usize,
        r: *mut *mut u8,
        rl: *mut usize,
    ) -> u32;
    fn proxy_send_local_response(
        status: u32,
        d: *const u8,
        dl: usize,
        b: *const u8,
        bl: usize,
        h: *const u8,
        hl: usize,
        grpc: i32,
    ) -> u32;
    fn proxy_http_call(
        u: *const u8,
        ul: usize,
        h: *const u8,
        hl: usize,
        b: *const u8,
        bl: usize,
        t: *const u8,
        tl: usize,
        timeout: u32,
        token: *mut u32,
    ) -> u32;
}

/// A serialized map of `pairs` (the ABI's format).
fn map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Host functions called with invalid arguments, and the status each returned.
pub(crate) fn bad_calls() -> Vec<(&'static str, u32)> {
    let bad = 0xffff_fff0usize as *mut u8;
    let (mut p, mut l, mut id) = (std::ptr::null_mut::<u8>(), 0usize, 0u32);
    let full = map(&[(":method", "GET"), (":path", "/"), (":authority", "x")]);
    let no_path = map(&[(":method", "GET"), (":authority", "x")]);
    let token = &mut id as *mut u32;
    // SAFETY: raw host calls with the ABI's signatures; every pointer the host writes through
    // is either valid (locals above) or deliberately outside memory (the host must refuse it).
    unsafe {
        vec![
            ("log_bad_pointer", proxy_log(2, bad, 100)),
            ("log_bad_level", proxy_log(99, b"x".as_ptr(), 1)),
            (
                "map_value_bad_map",
                proxy_get_header_map_value(99, b"a".as_ptr(), 1, &mut p, &mut l),
            ),
            (
                "map_value_absent",
                proxy_get_header_map_value(0, b"x-absent".as_ptr(), 8, &mut p, &mut l),
            ),
            (
                "map_value_bad_out",
                proxy_get_header_map_value(0, b":path".as_ptr(), 5, bad.cast(), bad.cast()),
            ),
            (
                "set_pairs_truncated",
                proxy_set_header_map_pairs(0, [5u8, 0, 0, 0].as_ptr(), 4),
            ),
            (
                "add_bad_name",
                proxy_add_header_map_value(0, b"bad name\n".as_ptr(), 9, b"v".as_ptr(), 1),
            ),
            (
                "buffer_bad_type",
                proxy_get_buffer_bytes(99, 0, 1, &mut p, &mut l),
            ),
            (
                "buffer_config_outside_configure",
                proxy_get_buffer_bytes(7, 0, 10, &mut p, &mut l),
            ),
            (
                "effective_context_unknown",
                proxy_set_effective_context(999_999),
            ),
            (
                "property_absent",
                proxy_get_property(b"nope".as_ptr(), 4, &mut p, &mut l),
            ),
            ("continue_bad_stream", proxy_continue_stream(99)),
            (
                "shared_absent",
                proxy_get_shared_data(b"absent".as_ptr(), 6, &mut p, &mut l, &mut id),
            ),
            (
                "dequeue_unknown",
                proxy_dequeue_shared_queue(999_999, &mut p, &mut l),
            ),
            ("increment_unknown", proxy_increment_metric(999_999, 1)),
            (
                "define_bad_type",
                proxy_define_metric(7, b"m".as_ptr(), 1, &mut id),
            ),
            (
                "foreign_unknown",
                proxy_call_foreign_function(b"x".as_ptr(), 1, bad, 0, &mut p, &mut l),
            ),
            (
                "local_bad_status",
                proxy_send_local_response(1000, bad, 0, bad, 0, bad, 0, -1),
            ),
            (
                "call_unknown_upstream",
                proxy_http_call(
                    b"nowhere".as_ptr(),
                    7,
                    full.as_ptr(),
                    full.len(),
                    bad,
                    0,
                    bad,
                    0,
                    100,
                    token,
                ),
            ),
            (
                "call_without_path",
                proxy_http_call(
                    b"app".as_ptr(),
                    3,
                    no_path.as_ptr(),
                    no_path.len(),
                    bad,
                    0,
                    bad,
                    0,
                    100,
                    token,
                ),
            ),
        ]
    }
}
