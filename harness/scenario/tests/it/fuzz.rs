use std::path::Path;

use iamconform_scenario::load_str;
use proptest::prelude::*;

use crate::good::FULL;

fn check(text: &str) {
    // Ok or Err, never a panic; and an error always has at least one positioned diagnostic.
    if let Err(d) = load_str(Path::new("f.yaml"), text) {
        assert!(!d.is_empty());
        for diag in &d {
            assert!(diag.line >= 1 && diag.col >= 1, "{diag}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn yamlish_text_never_panics(text in "([a-z_]{1,8}: |- |  |\\{|\\}|\\[|\\]|,|&a |\\*a|<<: |\"|'|#|\n|[0-9]{1,3}|-?[0-9]+[hms]|true|null|~){0,80}") {
        check(&text);
    }

    #[test]
    fn mutated_full_example_never_panics(
        cuts in proptest::collection::vec((0usize..4000, 0usize..40, "[ \n:{}\\[\\],\"'&*#a-z0-9-]{0,6}"), 1..6)
    ) {
        let mut text = FULL.to_owned();
        for (at, len, insert) in cuts {
            let mut start = at.min(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(start..end, &insert);
        }
        check(&text);
    }
}

#[test]
fn deep_nesting_and_alias_bombs_are_bounded() {
    let deep = format!("name: x\nsteps: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    check(&deep);
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    check(bomb);
    let many_errors: String = (0..5000).map(|i| format!("k{i}: 1\n")).collect();
    let d = load_str(Path::new("f.yaml"), &many_errors).unwrap_err();
    assert_eq!(d.len(), 101);
    let last = d.iter().last().unwrap();
    assert_eq!(last.message, "too many problems; stopped after 100");
    assert_eq!(last.line, 101);
}
