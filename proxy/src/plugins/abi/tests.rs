//! The map format against the spec's example, round trips, and every way a guest's map can
//! be malformed.

use super::*;

fn pairs<'a>(list: &'a [(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
    list.iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect()
}

#[test]
fn the_spec_example_and_the_empty_map() {
    let one = serialize_map(pairs(&[(":method", "GET")]));
    let mut expected = vec![1, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0];
    expected.extend_from_slice(b":method\0GET\0");
    assert_eq!(one, expected);
    assert_eq!(
        serialize_map(Vec::new()),
        [0, 0, 0, 0],
        "never the 1-byte form"
    );
    assert_eq!(deserialize_map(&[0, 0, 0, 0]), Ok(Vec::new()));
    assert_eq!(deserialize_map(&[]), Ok(Vec::new()));
}

#[test]
fn maps_round_trip_with_empty_and_binary_values() {
    let list: Vec<(&[u8], &[u8])> = vec![
        (b":path", b"/livret?eleve=1"),
        (b"x-empty", b""),
        (b"", b"no name"),
        (b"x-bin", &[0xff, 0xfe, 0x01]),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ];
    let bytes = serialize_map(list.clone());
    assert_eq!(deserialize_map(&bytes), Ok(list));
}

#[test]
fn malformed_maps_are_refused_whole() {
    let good = serialize_map(pairs(&[("a", "1"), ("bb", "22")]));
    let mut cases: Vec<(Vec<u8>, MapError)> = vec![
        (vec![1, 0], MapError::Truncated),
        (good[..good.len() - 1].to_vec(), MapError::Truncated),
        (good[..10].to_vec(), MapError::Truncated),
        ([good.clone(), vec![7]].concat(), MapError::TrailingBytes),
        (vec![0x01, 0x04, 0, 0], MapError::TooManyPairs),
        (vec![0; MAX_MAP_BYTES + 1], MapError::TooLarge),
    ];
    let mut no_nul = good.clone();
    let first_nul = 4 + 16 + 1;
    no_nul[first_nul] = b'x';
    cases.push((no_nul, MapError::MissingNul));
    // Lengths near u32::MAX must not overflow the arithmetic.
    let mut huge = vec![1, 0, 0, 0];
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(b"a\0b\0");
    cases.push((huge, MapError::Truncated));
    // A count whose size table alone is larger than the bytes.
    cases.push((vec![0xff, 0x03, 0, 0, 1, 2, 3], MapError::Truncated));
    for (bytes, expected) in cases {
        let shown = bytes.iter().take(24).copied().collect::<Vec<u8>>();
        assert_eq!(deserialize_map(&bytes), Err(expected), "{shown:?}");
    }
}

#[test]
fn the_largest_accepted_map() {
    let values: Vec<(Vec<u8>, Vec<u8>)> = (0..MAX_MAP_PAIRS)
        .map(|i| (format!("h{i}").into_bytes(), b"v".to_vec()))
        .collect();
    let bytes = serialize_map(
        values
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(deserialize_map(&bytes).map(|p| p.len()), Ok(MAX_MAP_PAIRS));
}

#[test]
fn property_paths_lists_and_markers() {
    assert_eq!(property_path(b"request\0path"), [&b"request"[..], b"path"]);
    assert_eq!(
        property_path(b"vigie\0children"),
        [&b"vigie"[..], b"children"]
    );
    assert!(property_path(b"").is_empty());
    assert_eq!(property_path(b"a\0\0b"), [&b"a"[..], b"", b"b"]);
    let list = serialize_list([&b"0350001A"[..], b"0350002B"]);
    assert_eq!(
        deserialize_map(&list),
        Ok(vec![(&b"0350001A"[..], &b""[..]), (b"0350002B", b"")])
    );
    assert_eq!(
        AbiVersion::from_export("proxy_abi_version_0_2_0"),
        Some(AbiVersion::V0_2_0)
    );
    assert_eq!(
        AbiVersion::from_export("proxy_abi_version_0_2_1"),
        Some(AbiVersion::V0_2_1)
    );
    assert_eq!(
        AbiVersion::from_export("proxy_abi_version_0_1_0"),
        Some(AbiVersion::V0_1_0)
    );
    assert_eq!(AbiVersion::from_export("proxy_on_vm_start"), None);
    assert_eq!(MapType::from_i32(6), Some(MapType::HttpCallResponseHeaders));
    assert_eq!(MapType::from_i32(8), None);
    assert_eq!(
        BufferType::from_i32(7),
        Some(BufferType::PluginConfiguration)
    );
    assert_eq!(BufferType::from_i32(-1), None);
    assert_eq!(LogLevel::from_i32(5), Some(LogLevel::Critical));
    assert_eq!(Status::Unimplemented as i32, 12);
}
