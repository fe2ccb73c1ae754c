use super::*;
use vigie_plugin::paris;

fn config() -> Config {
    serde_json::from_str(r#"{"windows": [{"from": "friday 20:00", "to": "monday 06:00"}]}"#)
        .unwrap()
}

#[test]
fn days_and_times_parse() {
    assert_eq!(week_minute("friday 20:00"), Some(4 * 1440 + 20 * 60));
    assert_eq!(week_minute("Lundi 06:00"), Some(360));
    assert_eq!(week_minute("sunday 23:59"), Some(7 * 1440 - 1));
    for bad in [
        "friday",
        "friday 24:00",
        "friday 20:60",
        "funday 10:00",
        "friday 8h",
    ] {
        assert_eq!(week_minute(bad), None, "{bad}");
    }
}

#[test]
fn a_window_over_the_weekend() {
    let c = config();
    let at = |text: &str| in_window(&c, week_minute(text).unwrap());
    assert_eq!(at("friday 19:59"), None);
    assert_eq!(
        at("friday 20:00"),
        Some(58 * 60),
        "58 hours to Monday 06:00"
    );
    assert_eq!(at("saturday 12:00"), Some(42 * 60));
    assert_eq!(at("monday 05:59"), Some(1));
    assert_eq!(at("monday 06:00"), None);
    assert_eq!(at("wednesday 12:00"), None);
    let (status, retry, body) = maintenance_page(&c, 90);
    assert_eq!((status, retry), (503, 5400));
    assert!(body.contains("lang=\"fr\"") && body.contains("Service en maintenance"));
    let custom: Config =
        serde_json::from_str(r#"{"windows": [], "message": "Reprise lundi <b>6 h</b>."}"#).unwrap();
    assert!(
        maintenance_page(&custom, 1)
            .2
            .contains("Reprise lundi &lt;b&gt;6 h&lt;/b&gt;.")
    );
}

#[test]
fn paris_time_follows_summer_time() {
    // Friday 2026-11-27 19:30 UTC is 20:30 in Paris (CET): in the window.
    assert_eq!(paris::week_minute(1_795_807_800), 4 * 1440 + 20 * 60 + 30);
    assert!(in_window(&config(), paris::week_minute(1_795_807_800)).is_some());
    // Friday 2026-07-03 18:30 UTC is 20:30 in Paris (CEST).
    assert_eq!(paris::week_minute(1_783_103_400), 4 * 1440 + 20 * 60 + 30);
    // The switches: 2026-03-29 and 2026-10-25 at 01:00 UTC.
    assert_eq!(paris::offset_hours(1_774_745_999), 1);
    assert_eq!(paris::offset_hours(1_774_746_000), 2);
    assert_eq!(paris::offset_hours(1_792_889_999), 2);
    assert_eq!(paris::offset_hours(1_792_890_000), 1);
    // Monday 2026-11-30 05:00 UTC is 06:00 in Paris: the window just ended.
    assert_eq!(
        in_window(&config(), paris::week_minute(1_796_014_800)),
        None
    );
    assert_eq!(
        in_window(&config(), paris::week_minute(1_796_014_740)),
        Some(1)
    );
}
