#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981

use iamconform_bexpr::{Expr, MatchExpr, MatchOp, ParseErrorKind, Selector, Span, parse};

fn m(sel: &[&str], op: MatchOp, value: Option<&str>) -> Expr {
    Expr::Match(MatchExpr {
        selector: Selector(sel.iter().map(|s| (*s).to_owned()).collect()),
        op,
        value: value.map(str::to_owned),
        span: Span::default(),
    })
}

fn eq(sel: &str, v: &str) -> Expr {
    m(&[sel], MatchOp::Equal, Some(v))
}

fn ok(src: &str) -> Expr {
    parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

fn err(src: &str) -> String {
    match parse(src) {
        Ok(e) => panic!("{src:?} unexpectedly parsed: {e:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn match_forms() {
    assert_eq!(ok("a == b"), eq("a", "b"));
    assert_eq!(ok("a==b"), eq("a", "b"));
    assert_eq!(ok("a != \"x\""), m(&["a"], MatchOp::NotEqual, Some("x")));
    assert_eq!(ok("a contains \"x\""), m(&["a"], MatchOp::In, Some("x")));
    assert_eq!(
        ok("a not contains \"x\""),
        m(&["a"], MatchOp::NotIn, Some("x"))
    );
    assert_eq!(ok("\"x\" in a"), m(&["a"], MatchOp::In, Some("x")));
    assert_eq!(ok("\"x\" not in a"), m(&["a"], MatchOp::NotIn, Some("x")));
    assert_eq!(
        ok("a matches \"^x\""),
        m(&["a"], MatchOp::Matches, Some("^x"))
    );
    assert_eq!(
        ok("a not matches \"^x\""),
        m(&["a"], MatchOp::NotMatches, Some("^x"))
    );
    assert_eq!(ok("a is empty"), m(&["a"], MatchOp::IsEmpty, None));
    assert_eq!(ok("a is not empty"), m(&["a"], MatchOp::IsNotEmpty, None));
    // A bare word on the left of `in` is a value.
    assert_eq!(
        ok("env in entity_tags"),
        m(&["entity_tags"], MatchOp::In, Some("env"))
    );
}

#[test]
fn selectors_and_values() {
    assert_eq!(
        ok(r#"entity_tags["consul.hashicorp.com.gateway-kind"] == "api-gateway""#),
        m(
            &["entity_tags", "consul.hashicorp.com.gateway-kind"],
            MatchOp::Equal,
            Some("api-gateway")
        )
    );
    assert_eq!(
        ok(r#"a[ "k" ].b == 1"#),
        m(&["a", "k", "b"], MatchOp::Equal, Some("1"))
    );
    assert_eq!(
        ok("entity_tags.env == prod"),
        m(&["entity_tags", "env"], MatchOp::Equal, Some("prod"))
    );
    // Bare selector-like words are taken literally, joined with `.`.
    assert_eq!(ok("entity_name == myrole"), eq("entity_name", "myrole"));
    assert_eq!(ok("a == x.y[\"z w\"]"), eq("a", "x.y.z w"));
    // Numbers keep their text.
    assert_eq!(
        ok("account_id == 1234567890"),
        eq("account_id", "1234567890")
    );
    assert_eq!(ok("a == -1.50"), eq("a", "-1.50"));
    assert_eq!(ok("a == 0"), eq("a", "0"));
    assert_eq!(ok("(a == 0)"), eq("a", "0"));
    // Go unquote rules for "…", raw text for `…` (minus \r).
    assert_eq!(ok(r#"a == "t\tA\x41\u00e9""#), eq("a", "t\tAAé"));
    assert_eq!(ok("a == `x\\ny\"`"), eq("a", "x\\ny\""));
    assert_eq!(ok("a == \"\""), eq("a", ""));
    // Keywords are not reserved.
    assert_eq!(ok("not == and"), eq("not", "and"));
}

#[test]
fn precedence_and_associativity() {
    let (a, b, c) = (eq("a", "1"), eq("b", "2"), eq("c", "3"));
    let bx = |e: &Expr| Box::new(e.clone());
    assert_eq!(
        ok("a == 1 or b == 2 and c == 3"),
        Expr::Or(bx(&a), Box::new(Expr::And(bx(&b), bx(&c))))
    );
    assert_eq!(
        ok("a == 1 and b == 2 or c == 3"),
        Expr::Or(Box::new(Expr::And(bx(&a), bx(&b))), bx(&c))
    );
    assert_eq!(
        ok("a == 1 and b == 2 and c == 3"),
        Expr::And(bx(&a), Box::new(Expr::And(bx(&b), bx(&c))))
    );
    assert_eq!(
        ok("a == 1 or b == 2 or c == 3"),
        Expr::Or(bx(&a), Box::new(Expr::Or(bx(&b), bx(&c))))
    );
    assert_eq!(
        ok("(a == 1 or b == 2) and c == 3"),
        Expr::And(Box::new(Expr::Or(bx(&a), bx(&b))), bx(&c))
    );
    assert_eq!(
        ok("not a == 1 and b == 2"),
        Expr::And(Box::new(Expr::Not(bx(&a))), bx(&b))
    );
    assert_eq!(
        ok("not (a == 1 and b == 2)"),
        Expr::Not(Box::new(Expr::And(bx(&a), bx(&b))))
    );
    assert_eq!(ok(" ( a == 1 ) "), a);
    assert_eq!(ok("(a == 1) and (b == 2)"), Expr::And(bx(&a), bx(&b)));
}

#[test]
fn not_not_collapses() {
    assert_eq!(ok("not not a == 1"), eq("a", "1"));
    assert_eq!(ok("not (not a == 1)"), eq("a", "1"));
    assert_eq!(ok("not not not a == 1"), Expr::Not(Box::new(eq("a", "1"))));
}

#[test]
fn whitespace_rules() {
    // `and` / `or` / `not` need whitespace around them.
    assert_eq!(
        err("a == 1 andb == 2"),
        "1:11 (10): no match found, expected: [ \\t\\r\\n]"
    );
    assert!(parse("a == 1and b == 2").is_err());
    assert!(parse("nota == 1").is_ok()); // the selector `nota`
    assert!(parse("a == 1\n\tand\r\nb == 2").is_ok());
}

// Spec §3.2: selector identifiers are `[a-zA-Z][a-zA-Z0-9_]*`.
#[test]
fn dash_in_dotted_selector_is_a_parse_error() {
    assert_eq!(
        err(r#"entity_tags.service-name == "x""#),
        r#"1:20 (19): no match found, expected: "!=", ".", "==", "[", [ \t\r\n] or [a-zA-Z0-9_]"#
    );
    assert!(parse("entity_name == my-role").is_err());
    assert!(parse("_a == 1").is_err());
}

#[test]
fn error_texts() {
    assert_eq!(
        err(""),
        r#"1:1 (0): no match found, expected: "(", "-", "0", "\"", "`", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#
    );
    assert_eq!(
        err("a"),
        r#"1:2 (1): no match found, expected: "!=", ".", "==", "[", [ \t\r\n] or [a-zA-Z0-9_]"#
    );
    assert_eq!(
        err("(a == b"),
        "1:8 (7): rule \"grouping\": Unmatched parentheses"
    );
    assert_eq!(
        err("x == 12abc"),
        "1:8 (7): rule \"number\": Invalid number literal"
    );
    assert_eq!(
        err("account_id == 0123"),
        "1:16 (15): rule \"number\": Invalid number literal"
    );
    assert_eq!(
        err("x == \"abc"),
        "1:10 (9): rule \"string\": Unterminated string literal"
    );
    assert_eq!(
        err("x == `abc"),
        "1:10 (9): rule \"string\": Unterminated string literal"
    );
    assert_eq!(err("x[ == 1"), "1:4 (3): rule \"index\": Invalid index");
    assert_eq!(err("x[5] == 1"), "1:3 (2): rule \"index\": Invalid index");
    assert_eq!(
        err("x[\"a\" == 1"),
        "1:7 (6): rule \"index\": Unclosed index expression"
    );
    assert_eq!(
        err("\"a\" in 5"),
        "1:8 (7): rule \"match\": Invalid selector"
    );
    assert_eq!(
        err(r#"a == "\q""#),
        "1:6 (5): rule \"string\": invalid syntax"
    );
    assert_eq!(
        err(r#"a == "\'""#),
        "1:6 (5): rule \"string\": invalid syntax"
    );
    // A `\n` sits at column 0 of the next line in pigeon's counting.
    assert_eq!(
        err("a ==\n"),
        r#"2:1 (5): no match found, expected: "-", "0", "\"", "`", [ \t\r\n], [1-9] or [a-zA-Z]"#
    );
    assert_eq!(
        err("a == 1 )"),
        r#"1:8 (7): no match found, expected: "and", "or", [ \t\r\n] or EOF"#
    );
}

#[test]
fn error_kinds_and_offsets() {
    let e = parse("x == 12abc").unwrap_err();
    assert_eq!(e.offset(), 7);
    assert_eq!(e.items()[0].kind, ParseErrorKind::InvalidNumber);
    assert_eq!(e.items()[0].rule, Some("number"));
}

#[test]
fn limits() {
    let long = format!(
        "a == \"{}\"",
        "x".repeat(iamconform_bexpr::MAX_SELECTOR_LEN)
    );
    assert!(matches!(
        parse(&long).unwrap_err().items()[0].kind,
        ParseErrorKind::TooLong { .. }
    ));
    let deep = format!("{}a == 1{}", "(".repeat(1500), ")".repeat(1500));
    assert!(matches!(
        parse(&deep).unwrap_err().items()[0].kind,
        ParseErrorKind::TooDeep { .. }
    ));
    let nested = format!("{}a == 1{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(ok(&nested), eq("a", "1"));
    let chain = vec!["a == 1"; 150].join(" and ");
    assert!(parse(&chain).is_ok());
    // Deep input is rejected without exhausting a 2 MiB (tokio worker sized) stack.
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let deep = format!("{}a == 1{}", "(not ".repeat(3000), ")".repeat(3000));
            parse(&deep).is_err()
        })
        .unwrap();
    assert!(handle.join().unwrap());
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("a==b", r#"a == "b""#),
        ("\"x\" in entity_tags", r#"entity_tags contains "x""#),
        (
            r#"entity_tags["a.b-c"] != """#,
            r#"entity_tags["a.b-c"] != """#,
        ),
        (
            "(a == 1 or b == 2) and not c is empty",
            r#"(a == "1" or b == "2") and not c is empty"#,
        ),
        ("a == `q\"`", r#"a == "q\x22""#),
        ("not (a == 1 or b == 2)", r#"not (a == "1" or b == "2")"#),
    ];
    for (src, want) in cases {
        let e = ok(src);
        assert_eq!(e.to_string(), want, "{src}");
        assert_eq!(ok(want), e, "{src}");
    }
    // A hand-built double negation prints without it.
    let nn = Expr::Not(Box::new(Expr::Not(Box::new(eq("a", "1")))));
    assert_eq!(nn.to_string(), r#"a == "1""#);
}

/// The error vectors of go-bexpr's `grammar_test.go`. That file is from a later release whose
/// grammar also accepts JSON-pointer selectors (`/foo`), which adds `"/"` to some expected
/// lists; v0.1.2 has no such alternative, so `"/"` is dropped from those lists here.
#[test]
fn upstream_grammar_test_vectors() {
    let cases = [
        (
            "foo == \"12x",
            "1:12 (11): rule \"string\": Unterminated string literal",
        ),
        (
            "foo == `12x",
            "1:12 (11): rule \"string\": Unterminated string literal",
        ),
        (
            "foo == 3x",
            "1:9 (8): rule \"number\": Invalid number literal",
        ),
        ("foo[3] == abc", "1:5 (4): rule \"index\": Invalid index"),
        (
            "x in foo[\"abc\"",
            "1:15 (14): rule \"index\": Unclosed index expression",
        ),
        (
            "foo[\"abc\" == 3",
            "1:11 (10): rule \"index\": Unclosed index expression",
        ),
        ("x in 32", "1:6 (5): rule \"match\": Invalid selector"),
        (
            "32 == 32",
            r#"1:4 (3): no match found, expected: "in", "not" or [ \t\r\n]"#,
        ),
        (
            "32 is empty",
            r#"1:4 (3): no match found, expected: "in", "not" or [ \t\r\n]"#,
        ),
        (
            "x in foo abc",
            r#"1:10 (9): no match found, expected: "and", "or", [ \t\r\n] or EOF"#,
        ),
        (
            "x in foo and ",
            r#"1:14 (13): no match found, expected: "(", "-", "0", "\"", "`", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "x in foo or ",
            r#"1:13 (12): no match found, expected: "(", "-", "0", "\"", "`", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "x in foo or not ",
            r#"1:17 (16): no match found, expected: "!=", "(", "-", "0", "==", "\"", "`", "contains", "in", "is", "matches", "not", [ \t\r\n], [1-9] or [a-zA-Z]"#,
        ),
        (
            "(foo == 4",
            "1:10 (9): rule \"grouping\": Unmatched parentheses",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(err(src), want, "{src:?}");
    }
    let ok_cases = [
        "foo == 3",
        "list is not empty",
        "bar not contains foo",
        "foo not matches bar",
        "not prod in tags",
        "port != 80 and port != 8080",
        "x in foo and not (str == something or list is empty)",
        "\t\r\n  foo \t\r\n not \t\r\n in \t\r\n x \t\r\n",
        "\t\r\n ( \t\r\n foo \t\r\n == \t\r\n x \t\r\n ) \t\r\n",
        "`environment` in foo.bar[\"meta\"].tags[\t`ENV` ]",
        "environment in foo[\"abc-def ghi åß∂ƒ\"]",
        "foo == -0.2",
        "(((foo == 3) and (not ((bar in baz) and (not (one != two))))) or (((next is empty) and (not (foo is not empty))) and (bar not in foo)))",
    ];
    for src in ok_cases {
        let e = ok(src);
        assert_eq!(ok(&e.to_string()), e, "{src:?}");
    }
    assert_eq!(
        ok("`environment` in foo.bar[\"meta\"].tags[\t`ENV` ]"),
        m(
            &["foo", "bar", "meta", "tags", "ENV"],
            MatchOp::In,
            Some("environment")
        )
    );
}
