#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981

use iamconform_bexpr::{
    Data, Evaluator, Expr, FieldKind, MatchExpr, MatchOp, Schema, Selector, Span, Value, parse,
};
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,6}"
}

fn selector() -> impl Strategy<Value = Selector> {
    (
        ident(),
        prop::collection::vec(prop_oneof![ident(), "\\PC{0,8}"], 0..3),
    )
        .prop_map(|(first, rest)| {
            let mut v = vec![first];
            v.extend(rest);
            Selector(v)
        })
}

fn op() -> impl Strategy<Value = MatchOp> {
    prop_oneof![
        Just(MatchOp::Equal),
        Just(MatchOp::NotEqual),
        Just(MatchOp::In),
        Just(MatchOp::NotIn),
        Just(MatchOp::IsEmpty),
        Just(MatchOp::IsNotEmpty),
        Just(MatchOp::Matches),
        Just(MatchOp::NotMatches),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    (
        selector(),
        op(),
        "\\PC{0,10}|[\"`\\\\\n\r\t\u{0}\u{7f}]{0,4}",
    )
        .prop_map(|(selector, op, value)| {
            let value = if matches!(op, MatchOp::IsEmpty | MatchOp::IsNotEmpty) {
                None
            } else {
                Some(value)
            };
            Expr::Match(MatchExpr {
                selector,
                op,
                value,
                span: Span::default(),
            })
        })
}

/// Trees the parser can produce: no `Not(Not(_))`.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::Or(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::And(Box::new(l), Box::new(r))),
            inner.prop_map(|e| match e {
                Expr::Not(x) => *x,
                e => Expr::Not(Box::new(e)),
            }),
        ]
    })
}

fn schema() -> Schema {
    Schema::new([
        ("entity_name", FieldKind::String),
        ("entity_tags", FieldKind::StringMap),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_grammar_alphabet(s in "[a-z_ .\\[\\]\"`()=!\\-0-9\\\\\n]{0,60}|((not|and|or|in|is|empty|contains|matches|entity_tags|entity_name|==|!=|\\(|\\)|\\[\"k\"\\]|\"v\"|`r`|-?[0-9]{1,3}(\\.[0-9])?) ?){0,12}") {
        let _ = parse(&s);
        if let Ok(ev) = Evaluator::new(&s, &schema()) {
            let mut d = Data::new();
            d.insert("entity_name".into(), Value::String("n".into()));
            d.insert("entity_tags".into(), Value::Map(None));
            let _ = ev.evaluate(&d);
        }
    }

    #[test]
    fn display_round_trips(e in expr()) {
        let printed = e.to_string();
        let reparsed = parse(&printed);
        prop_assert_eq!(reparsed.as_ref().ok(), Some(&e), "printed: {}", printed);
    }

    #[test]
    fn display_of_parsed_is_a_fixpoint(s in "((entity_name|entity_tags\\[\"a-b\"\\]) (==|!=|contains|not contains) (\"v\"|x|1) (and|or) (not )?){1,4}entity_tags is empty") {
        let e = parse(&s).unwrap();
        prop_assert_eq!(parse(&e.to_string()).unwrap(), e);
    }
}
