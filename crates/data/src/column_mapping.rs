//! Which column of a user's file plays which role in training: `anchor=question,positive=answer`,
//! `sentence1=s1,sentence2=s2,score=label`, `premise=p,hypothesis=h,label=gold`,
//! `query=query,documents=docs,labels=labels` (lists).

use std::str::FromStr;

/// The role name that makes a column the float target ([`crate::TargetColumn::Scores`]).
pub const SCORE_ROLE: &str = "score";
/// The role name that makes a column the class target ([`crate::TargetColumn::Classes`]).
pub const LABEL_ROLE: &str = "label";
/// The role name that makes a column the label lists of a list set
/// ([`crate::TrainingSet::from_lists`]).
pub const LABELS_ROLE: &str = "labels";
/// The role name that makes a column a teacher's embedding per row
/// ([`crate::TargetColumn::Vectors`]).
pub const EMBEDDING_ROLE: &str = "embedding";

/// The kind of supervision a target column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRole {
    /// A float per row (similarity score, 0/1 pair label).
    Score,
    /// A class index per row, `0..num_labels`.
    Label,
    /// A list of numbers per row, one per document of the row's document list (the second
    /// text role); the first text role is the query.
    LabelLists,
    /// A list of numbers per row of one length for every row: a teacher's embedding.
    Embedding,
}

impl TargetRole {
    pub fn name(self) -> &'static str {
        match self {
            Self::Score => SCORE_ROLE,
            Self::Label => LABEL_ROLE,
            Self::LabelLists => LABELS_ROLE,
            Self::Embedding => EMBEDDING_ROLE,
        }
    }

    fn from_role(role: &str) -> Option<Self> {
        match role {
            SCORE_ROLE => Some(Self::Score),
            LABEL_ROLE => Some(Self::Label),
            LABELS_ROLE => Some(Self::LabelLists),
            EMBEDDING_ROLE => Some(Self::Embedding),
            _ => None,
        }
    }
}

/// Maps our role names to a file's column names.
///
/// Parsed from `role=column` entries separated by commas; whitespace around names is ignored,
/// and a column name may itself contain `=` (the first one splits). Every role except `score`
/// and `label` is a text role; text roles become the training set's columns in the order they
/// are written (the order a loss consumes them: anchor, positive, negative). `score` (a float)
/// or `label` (a class index) becomes the target; at most one of them.
///
/// `labels` (a list of numbers per row) makes a list set for the listwise cross-encoder
/// losses: it needs exactly two text roles, the query (a text) and then the documents (a list
/// of texts, one per label), e.g. `query=query,documents=docs,labels=labels` (what `train-cli
/// mine --format labeled-list` writes). Lists need a JSONL (arrays) or parquet (list columns)
/// file; the identity mapping never makes one.
///
/// [`ColumnMapping::identity`] (also the `Default`) maps every text column of the file to a
/// role of the same name, in file order, and a column named `score` or `label` to the target
/// (`score` wins if both exist). Text columns are: every column of a CSV/TSV file (it has no
/// types), the string-valued keys of a JSONL file's first object, the string-typed columns of
/// a parquet file (so GLUE's integer `idx` is left out).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnMapping {
    /// `None` for the identity mapping, resolved against each file's columns.
    explicit: Option<Explicit>,
    num_labels: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Explicit {
    /// (role, column), in the order written.
    texts: Vec<(String, String)>,
    target: Option<(TargetRole, String)>,
}

/// Why a column mapping string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the mapping is empty; expected role=column entries such as anchor=question,positive=answer")]
    Empty,
    #[error("entry {index} is empty (a stray comma?)")]
    EmptyEntry {
        /// 1-based position among the comma-separated entries.
        index: usize,
    },
    #[error("`{entry}` has no `=`; expected role=column")]
    MissingEquals { entry: String },
    #[error("`{entry}` has an empty role name")]
    EmptyRole { entry: String },
    #[error("`{entry}` has an empty column name")]
    EmptyColumn { entry: String },
    #[error("role `{role}` is mapped more than once")]
    DuplicateRole { role: String },
    #[error("no text role; map at least one text column, e.g. anchor=question")]
    NoTextRole,
    #[error("both `score` and `label` are mapped; a dataset has one target")]
    BothTargets,
    /// `labels` and another target role.
    #[error("both `{first}` and `{second}` are mapped; a dataset has one target")]
    TwoTargets {
        first: &'static str,
        second: &'static str,
    },
    /// `labels` with other than two text roles.
    #[error(
        "`labels` (a list of labels per row) needs exactly two text roles, the query and then \
         the documents list (e.g. query=query,documents=docs,labels=labels), got {found}"
    )]
    ListRoles { found: usize },
}

/// A mapping applied to one file: concrete column names for every role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedMapping {
    pub(crate) texts: Vec<(String, String)>,
    pub(crate) target: Option<(TargetRole, String)>,
}

impl ResolvedMapping {
    /// Whether the rows are (query, documents, labels) lists: text role 0 is the query, text
    /// role 1 the documents.
    pub(crate) fn lists(&self) -> bool {
        matches!(self.target, Some((TargetRole::LabelLists, _)))
    }
}

impl ColumnMapping {
    /// The file's own column names as roles; see the type's documentation.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Fixes the number of classes of a `label` target (default: the largest label + 1).
    pub fn with_num_labels(mut self, num_labels: usize) -> Self {
        self.num_labels = Some(num_labels);
        self
    }

    pub fn num_labels(&self) -> Option<usize> {
        self.num_labels
    }

    pub fn is_identity(&self) -> bool {
        self.explicit.is_none()
    }

    /// Whether it maps (query, documents, labels) lists (a `labels` role).
    pub fn is_lists(&self) -> bool {
        matches!(self.target(), Some((TargetRole::LabelLists, _)))
    }

    /// (role, column) of every text role, in order; empty for the identity mapping.
    pub fn text_roles(&self) -> impl Iterator<Item = (&str, &str)> {
        self.explicit
            .iter()
            .flat_map(|e| e.texts.iter().map(|(r, c)| (r.as_str(), c.as_str())))
    }

    /// The target role and its column; `None` for no target or the identity mapping.
    pub fn target(&self) -> Option<(TargetRole, &str)> {
        self.explicit
            .as_ref()
            .and_then(|e| e.target.as_ref())
            .map(|(role, column)| (*role, column.as_str()))
    }

    /// Applies the mapping to a file with `columns` (in file order), of which `text_columns`
    /// hold strings. Only the identity mapping depends on them; whether mapped columns exist
    /// is checked by each reader, which knows how to name a missing one.
    pub(crate) fn resolve(
        &self,
        columns: &[&str],
        is_text: impl Fn(&str) -> bool,
    ) -> Result<ResolvedMapping, MappingError> {
        if let Some(explicit) = &self.explicit {
            return Ok(ResolvedMapping {
                texts: explicit.texts.clone(),
                target: explicit.target.clone(),
            });
        }
        let mut texts = Vec::new();
        for &column in columns {
            if ![SCORE_ROLE, LABEL_ROLE].contains(&column)
                && is_text(column)
                && !texts
                    .iter()
                    .any(|(role, _): &(String, String)| role == column)
            {
                texts.push((column.to_owned(), column.to_owned()));
            }
        }
        if texts.is_empty() {
            return Err(MappingError::NoTextRole);
        }
        let target = [TargetRole::Score, TargetRole::Label]
            .into_iter()
            .find(|role| columns.contains(&role.name()))
            .map(|role| (role, role.name().to_owned()));
        Ok(ResolvedMapping { texts, target })
    }
}

impl FromStr for ColumnMapping {
    type Err = MappingError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        if spec.trim().is_empty() {
            return Err(MappingError::Empty);
        }
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut target: Option<(TargetRole, String)> = None;
        for (i, entry) in spec.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(MappingError::EmptyEntry { index: i + 1 });
            }
            let (role, column) =
                entry
                    .split_once('=')
                    .ok_or_else(|| MappingError::MissingEquals {
                        entry: entry.to_owned(),
                    })?;
            let (role, column) = (role.trim(), column.trim());
            if role.is_empty() {
                return Err(MappingError::EmptyRole {
                    entry: entry.to_owned(),
                });
            }
            if column.is_empty() {
                return Err(MappingError::EmptyColumn {
                    entry: entry.to_owned(),
                });
            }
            let duplicate = texts.iter().any(|(r, _)| r == role)
                || target.as_ref().is_some_and(|(t, _)| t.name() == role);
            if duplicate {
                return Err(MappingError::DuplicateRole {
                    role: role.to_owned(),
                });
            }
            match (TargetRole::from_role(role), &target) {
                (Some(kind), Some((first, _))) => {
                    let lists = [kind, *first].contains(&TargetRole::LabelLists);
                    return Err(if lists {
                        MappingError::TwoTargets {
                            first: first.name(),
                            second: kind.name(),
                        }
                    } else {
                        MappingError::BothTargets
                    });
                }
                (Some(kind), None) => target = Some((kind, column.to_owned())),
                (None, _) => texts.push((role.to_owned(), column.to_owned())),
            }
        }
        if texts.is_empty() {
            return Err(MappingError::NoTextRole);
        }
        if matches!(target, Some((TargetRole::LabelLists, _))) && texts.len() != 2 {
            return Err(MappingError::ListRoles { found: texts.len() });
        }
        Ok(Self {
            explicit: Some(Explicit { texts, target }),
            num_labels: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<ColumnMapping, MappingError> {
        spec.parse()
    }

    #[test]
    fn keeps_text_order_and_splits_off_the_target() {
        let m = parse(" sentence2 = b , sentence1=a,score=gold=x").unwrap();
        assert_eq!(
            m.text_roles().collect::<Vec<_>>(),
            [("sentence2", "b"), ("sentence1", "a")]
        );
        assert_eq!(m.target(), Some((TargetRole::Score, "gold=x")));
        let m = parse("premise=p,label=gold,hypothesis=h").unwrap();
        assert_eq!(m.target(), Some((TargetRole::Label, "gold")));
        assert_eq!(m.text_roles().count(), 2);
        assert!(!m.is_identity());
    }

    #[test]
    fn rejects_malformed_specs_with_clear_errors() {
        let cases = [
            ("", MappingError::Empty),
            ("a=b,", MappingError::EmptyEntry { index: 2 }),
            (
                "anchor",
                MappingError::MissingEquals {
                    entry: "anchor".into(),
                },
            ),
            ("=q", MappingError::EmptyRole { entry: "=q".into() }),
            (
                "anchor= ",
                MappingError::EmptyColumn {
                    entry: "anchor=".into(),
                },
            ),
            (
                "anchor=q,anchor=r",
                MappingError::DuplicateRole {
                    role: "anchor".into(),
                },
            ),
            (
                "a=q,label=x,label=y",
                MappingError::DuplicateRole {
                    role: "label".into(),
                },
            ),
            ("score=s", MappingError::NoTextRole),
            ("a=q,score=s,label=l", MappingError::BothTargets),
        ];
        for (spec, want) in cases {
            assert_eq!(parse(spec).unwrap_err(), want, "{spec:?}");
        }
        assert_eq!(
            parse("anchor").unwrap_err().to_string(),
            "`anchor` has no `=`; expected role=column"
        );
    }

    #[test]
    fn labels_make_lists_of_a_query_and_documents() {
        let m = parse("query=q,documents=docs,labels=grades").unwrap();
        assert!(m.is_lists());
        assert_eq!(m.target(), Some((TargetRole::LabelLists, "grades")));
        assert_eq!(
            m.text_roles().collect::<Vec<_>>(),
            [("query", "q"), ("documents", "docs")]
        );
        let resolved = m.resolve(&[], |_| false).unwrap();
        assert!(resolved.lists());
        assert!(!parse("a=q,score=s").unwrap().is_lists());
        assert_eq!(
            parse("query=q,labels=l").unwrap_err(),
            MappingError::ListRoles { found: 1 }
        );
        assert_eq!(
            parse("query=q,documents=d,other=o,labels=l").unwrap_err(),
            MappingError::ListRoles { found: 3 }
        );
        let err = parse("q=q,d=d,labels=l,score=s").unwrap_err();
        assert_eq!(
            err,
            MappingError::TwoTargets {
                first: "labels",
                second: "score"
            }
        );
        assert_eq!(
            err.to_string(),
            "both `labels` and `score` are mapped; a dataset has one target"
        );
        // The identity mapping keeps a text column named `labels` a text column.
        let resolved = ColumnMapping::identity()
            .resolve(&["q", "labels"], |_| true)
            .unwrap();
        assert_eq!(resolved.texts.len(), 2);
        assert!(!resolved.lists());
    }

    #[test]
    fn identity_takes_text_columns_in_file_order() {
        let m = ColumnMapping::identity();
        let columns = ["idx", "sentence1", "label", "sentence2", "score"];
        let resolved = m.resolve(&columns, |c| c != "idx").unwrap();
        let roles: Vec<&str> = resolved.texts.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(roles, ["sentence1", "sentence2"]);
        assert_eq!(resolved.target, Some((TargetRole::Score, "score".into())));
        assert_eq!(
            m.resolve(&["idx"], |_| false).unwrap_err(),
            MappingError::NoTextRole
        );
        assert_eq!(
            ColumnMapping::identity().with_num_labels(3).num_labels(),
            Some(3)
        );
    }
}
