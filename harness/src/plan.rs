//! Which scenario files a run executes: discovery, `--filter` and `--shard`.
//!
//! Sharding follows nextest's `hash:K/N`: a scenario belongs to shard `K` when a stable hash of
//! its path relative to the scenario root, modulo `N`, is `K - 1`. The hash (FNV-1a 64) is written
//! out here so shards never move between Rust releases or machines.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One scenario file selected for a run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlannedFile {
    /// Path as given or discovered (used to open the file).
    pub path: PathBuf,
    /// Path relative to the root it was found under, with `/` separators (stable across machines;
    /// used for sharding, filtering and reports).
    pub id: String,
}

/// `--shard K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard index.
    pub index: u64,
    /// Number of shards.
    pub total: u64,
}

/// An invalid `--shard` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid shard {0:?}: expected K/N with 1 <= K <= N, e.g. --shard 1/3")]
pub struct ShardParseError(String);

impl FromStr for Shard {
    type Err = ShardParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ShardParseError(s.to_string());
        let text = s.strip_prefix("hash:").unwrap_or(s);
        let (k, n) = text.split_once('/').ok_or_else(err)?;
        let index: u64 = k.trim().parse().map_err(|_| err())?;
        let total: u64 = n.trim().parse().map_err(|_| err())?;
        if index == 0 || total == 0 || index > total {
            return Err(err());
        }
        Ok(Shard { index, total })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl Shard {
    /// Whether the scenario with this id belongs to this shard.
    pub fn contains(&self, id: &str) -> bool {
        fnv1a64(id.as_bytes()) % self.total == self.index - 1
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Errors while discovering scenario files.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A path given on the command line does not exist.
    #[error("scenario path {path} does not exist")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Finds every `*.yaml`/`*.yml` scenario under the given paths (files are taken as they are),
/// sorted by id so runs are reproducible.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PlannedFile>, DiscoverError> {
    let mut out = Vec::new();
    for root in paths {
        if root.is_file() {
            let id = root.to_string_lossy().replace('\\', "/");
            out.push(PlannedFile {
                path: root.clone(),
                id,
            });
        } else if root.is_dir() {
            walk(root, root, &mut out)?;
        } else {
            return Err(DiscoverError::Missing { path: root.clone() });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PlannedFile>) -> Result<(), DiscoverError> {
    let read = |e| DiscoverError::Read {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read)?
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let id = rel.to_string_lossy().replace('\\', "/");
            out.push(PlannedFile { path, id });
        }
    }
    Ok(())
}

/// A `--filter` pattern: matches when it is a substring of the scenario id, its name or one of
/// its tags (case-insensitive); `tag:x` matches only tags, `name:x` only names, `path:x` only ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    field: FilterField,
    needle: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterField {
    Any,
    Tag,
    Name,
    Path,
}

impl Filter {
    /// Parses a filter pattern.
    pub fn parse(pattern: &str) -> Filter {
        let split = pattern.split_once(':');
        let (field, needle) = match split.map(|(f, rest)| (f.to_ascii_lowercase(), rest)) {
            Some((f, rest)) if f == "tag" => (FilterField::Tag, rest),
            Some((f, rest)) if f == "name" => (FilterField::Name, rest),
            Some((f, rest)) if f == "path" => (FilterField::Path, rest),
            _ => (FilterField::Any, pattern),
        };
        Filter {
            field,
            needle: needle.to_lowercase(),
        }
    }

    /// Whether a scenario matches.
    pub fn matches(&self, id: &str, name: &str, tags: &[String]) -> bool {
        let has = |s: &str| s.to_lowercase().contains(&self.needle);
        let tag = || tags.iter().any(|t| t.to_lowercase() == self.needle);
        match self.field {
            FilterField::Any => has(id) || has(name) || tag(),
            FilterField::Tag => tag(),
            FilterField::Name => has(name),
            FilterField::Path => has(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parsing() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, total: 3 }));
        assert_eq!(
            "hash:2/2".parse::<Shard>(),
            Ok(Shard { index: 2, total: 2 })
        );
        for bad in ["0/3", "4/3", "1/0", "x/2", "3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_scenario_is_in_exactly_one_shard() {
        let ids: Vec<String> = (0..500)
            .map(|i| format!("topic{}/scenario-{i}.yaml", i % 7))
            .collect();
        for total in 1..=6 {
            let mut counts = vec![0usize; total as usize];
            for id in &ids {
                let owners: Vec<u64> = (1..=total)
                    .filter(|k| Shard { index: *k, total }.contains(id))
                    .collect();
                assert_eq!(owners.len(), 1, "{id} in shards {owners:?} of {total}");
                counts[(owners[0] - 1) as usize] += 1;
            }
            // A stable hash spreads 500 ids over the shards; none stays empty.
            assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
        }
    }

    #[test]
    fn shard_assignment_is_stable() {
        // Pinned values: changing the hash would move scenarios between CI shards.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn filters() {
        let tags = vec!["login".to_string(), "ecs".to_string()];
        assert!(Filter::parse("login").matches("x/y.yaml", "n", &tags));
        assert!(Filter::parse("tag:ecs").matches("x/y.yaml", "n", &tags));
        assert!(!Filter::parse("tag:ec").matches("x/y.yaml", "n", &tags));
        assert!(Filter::parse("path:server-id/").matches("server-id/a.yaml", "n", &[]));
        assert!(Filter::parse("NAME:Token").matches("a", "service token", &[]));
        assert!(!Filter::parse("name:zzz").matches("zzz", "a", &[]));
    }

    #[test]
    fn discovery_sorts_and_skips_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("b/2.yaml"), "").unwrap();
        std::fs::write(dir.path().join("a/1.yml"), "").unwrap();
        std::fs::write(dir.path().join("a/.hidden.yaml"), "").unwrap();
        std::fs::write(dir.path().join("a/readme.md"), "").unwrap();
        let files = discover(&[dir.path().to_path_buf()]).unwrap();
        let ids: Vec<_> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["a/1.yml", "b/2.yaml"]);
        assert!(matches!(
            discover(&[dir.path().join("nope")]),
            Err(DiscoverError::Missing { .. })
        ));
    }
}
