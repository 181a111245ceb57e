//! Command-line flags parsed the way Go's `flag` package parses them.
//!
//! `consul login`/`logout` use `flag.NewFlagSet("", flag.ContinueOnError)`: flags are `-name`
//! or `--name`, values are `-name value` or `-name=value`, bool flags take no separate value
//! (`-b=false` works, `-b false` does not), `--` ends the flags, the first non-flag argument
//! ends them too, and the same flag may repeat (last wins; `-meta` accumulates). Error texts are
//! Go's (`flag provided but not defined: -x`, `flag needs an argument: -x`, …).

use std::collections::BTreeMap;
use std::fmt;

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Str,
    /// `key=value`, repeatable (Consul's `FlagMapValue`).
    Map,
}

/// One defined flag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlagDef {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) usage: &'static str,
}

/// The result of parsing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parsed {
    strings: BTreeMap<&'static str, String>,
    bools: BTreeMap<&'static str, bool>,
    maps: BTreeMap<&'static str, Vec<(String, String)>>,
    /// Arguments after the flags.
    pub(crate) args: Vec<String>,
}

impl Parsed {
    pub(crate) fn string(&self, name: &str) -> Option<&str> {
        self.strings.get(name).map(String::as_str)
    }

    /// The value, with "not given" and "given empty" both as `""` (Go's zero value).
    pub(crate) fn str_or_empty(&self, name: &str) -> &str {
        self.string(name).unwrap_or_default()
    }

    pub(crate) fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    /// Map entries sorted by key, later assignments of a key winning.
    pub(crate) fn map(&self, name: &str) -> Vec<(String, String)> {
        let mut m: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in self.maps.get(name).into_iter().flatten() {
            m.insert(k.clone(), v.clone());
        }
        m.into_iter().collect()
    }
}

/// A parse failure, worded as Go's `flag` package words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FlagError {
    Help,
    NotDefined(String),
    NeedsArgument(String),
    BadSyntax(String),
    InvalidBool {
        value: String,
        name: String,
    },
    InvalidValue {
        value: String,
        name: String,
        reason: String,
    },
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Help => f.write_str("flag: help requested"),
            Self::NotDefined(n) => write!(f, "flag provided but not defined: -{n}"),
            Self::NeedsArgument(n) => write!(f, "flag needs an argument: -{n}"),
            Self::BadSyntax(s) => write!(f, "bad flag syntax: {s}"),
            Self::InvalidBool { value, name } => {
                write!(
                    f,
                    "invalid boolean value {value:?} for -{name}: parse error"
                )
            }
            Self::InvalidValue {
                value,
                name,
                reason,
            } => write!(f, "invalid value {value:?} for flag -{name}: {reason}"),
        }
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` against `defs`.
pub(crate) fn parse(defs: &[FlagDef], args: &[String]) -> Result<Parsed, FlagError> {
    let mut out = Parsed::default();
    let mut i = 0;
    while let Some(s) = args.get(i) {
        if s.len() < 2 || !s.starts_with('-') {
            break;
        }
        let mut name = &s[1..];
        if let Some(rest) = name.strip_prefix('-') {
            if rest.is_empty() {
                i += 1;
                break;
            }
            name = rest;
        }
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(FlagError::BadSyntax(s.clone()));
        }
        i += 1;
        let (name, inline) = match name.get(1..).and_then(|r| r.find('=')) {
            Some(pos) => (&name[..=pos], Some(name[pos + 2..].to_owned())),
            None => (name, None),
        };
        let Some(def) = defs.iter().find(|d| d.name == name) else {
            if name == "help" || name == "h" {
                return Err(FlagError::Help);
            }
            return Err(FlagError::NotDefined(name.to_owned()));
        };
        match def.kind {
            Kind::Bool => {
                let value = match inline {
                    Some(v) => parse_bool(&v).ok_or(FlagError::InvalidBool {
                        value: v,
                        name: name.to_owned(),
                    })?,
                    None => true,
                };
                out.bools.insert(def.name, value);
            }
            Kind::Str | Kind::Map => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        let v = args
                            .get(i)
                            .ok_or_else(|| FlagError::NeedsArgument(name.to_owned()))?;
                        i += 1;
                        v.clone()
                    }
                };
                if def.kind == Kind::Str {
                    out.strings.insert(def.name, value);
                } else {
                    let Some((k, v)) = value.split_once('=') else {
                        return Err(FlagError::InvalidValue {
                            reason: format!("Missing \"=\" value in argument: {value}"),
                            value,
                            name: name.to_owned(),
                        });
                    };
                    out.maps
                        .entry(def.name)
                        .or_default()
                        .push((k.to_owned(), v.to_owned()));
                }
            }
        }
    }
    out.args = args.get(i..).map(<[String]>::to_vec).unwrap_or_default();
    Ok(out)
}

/// A usage listing in the shape of Go's `PrintDefaults`.
pub(crate) fn usage(header: &str, defs: &[FlagDef]) -> String {
    let mut sorted: Vec<&FlagDef> = defs.iter().collect();
    sorted.sort_by_key(|d| d.name);
    let mut out = String::from(header);
    for d in sorted {
        let arg = match d.kind {
            Kind::Bool => "",
            Kind::Str => " string",
            Kind::Map => " value",
        };
        out.push_str(&format!("\n  -{}{arg}\n     {}", d.name, d.usage));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[FlagDef] = &[
        FlagDef {
            name: "method",
            kind: Kind::Str,
            usage: "",
        },
        FlagDef {
            name: "auto",
            kind: Kind::Bool,
            usage: "",
        },
        FlagDef {
            name: "meta",
            kind: Kind::Map,
            usage: "",
        },
    ];

    fn p(args: &[&str]) -> Result<Parsed, FlagError> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        parse(DEFS, &args)
    }

    #[test]
    fn go_flag_forms_are_accepted() {
        let r = p(&["-method", "a", "--auto", "-meta=k=v", "--meta", "x=y=z"]).unwrap();
        assert_eq!(r.string("method"), Some("a"));
        assert!(r.bool("auto"));
        assert_eq!(
            r.map("meta"),
            [
                ("k".to_owned(), "v".to_owned()),
                ("x".to_owned(), "y=z".to_owned())
            ]
        );
        let r = p(&["--method=b", "-auto=false", "rest", "-method", "c"]).unwrap();
        assert_eq!(r.string("method"), Some("b"));
        assert!(!r.bool("auto"));
        assert_eq!(r.args, ["rest", "-method", "c"]);
        let r = p(&["-auto", "--", "-method"]).unwrap();
        assert_eq!(r.args, ["-method"]);
        let r = p(&["-method=", "-", "x"]).unwrap();
        assert_eq!(r.string("method"), Some(""));
        assert_eq!(r.args, ["-", "x"]);
    }

    #[test]
    fn bool_flags_do_not_take_the_next_argument() {
        let r = p(&["-auto", "false"]).unwrap();
        assert!(r.bool("auto"));
        assert_eq!(r.args, ["false"]);
    }

    #[test]
    fn errors_are_worded_like_go() {
        let cases: &[(&[&str], &str)] = &[
            (&["-nope"], "flag provided but not defined: -nope"),
            (&["-method"], "flag needs an argument: -method"),
            (&["---method"], "bad flag syntax: ---method"),
            (&["-=x"], "bad flag syntax: -=x"),
            (
                &["-auto=maybe"],
                "invalid boolean value \"maybe\" for -auto: parse error",
            ),
            (
                &["-meta", "novalue"],
                "invalid value \"novalue\" for flag -meta: Missing \"=\" value in argument: novalue",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(p(args).unwrap_err().to_string(), *want, "{args:?}");
        }
        assert_eq!(p(&["-h"]).unwrap_err(), FlagError::Help);
        assert_eq!(p(&["--help"]).unwrap_err(), FlagError::Help);
    }

    #[test]
    fn last_string_wins_and_map_keys_override() {
        let r = p(&[
            "-method", "a", "-method", "b", "-meta", "k=1", "-meta", "k=2",
        ])
        .unwrap();
        assert_eq!(r.string("method"), Some("b"));
        assert_eq!(r.map("meta"), [("k".to_owned(), "2".to_owned())]);
    }
}
