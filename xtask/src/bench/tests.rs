use super::*;

#[test]
fn reads_numbers_from_json() {
    let text = r#"{"mean":{"point_estimate":51.7},"median":{"confidence_interval":{"lower_bound":1.0},"point_estimate":5.02e1}}"#;
    let median = text.find("\"median\"").unwrap();
    assert_eq!(json_number(&text[median..], "point_estimate"), Some(50.2));
    assert_eq!(
        json_number(r#"{"throughput":{"Elements":12800}}"#, "Elements"),
        Some(12800.0)
    );
    assert_eq!(json_number("{}", "x"), None);
}

#[test]
fn summary_keys_and_formats() {
    let rows = [
        Row::new("a_ns", 51.25, "x"),
        Row::target("b_ratio", 3.0, "y", ">= 3", |v| v >= 3.0),
    ];
    assert_eq!(
        summary_json(&rows),
        "{\n  \"a_ns\": 51.250,\n  \"b_ratio\": 3\n}\n"
    );
    assert!(markdown(&rows, true).contains("| `b_ratio` | 3 | y | >= 3 | yes |"));
}
