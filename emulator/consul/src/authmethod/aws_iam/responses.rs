//! Parsing the STS `GetCallerIdentity` and IAM `GetRole`/`GetUser` responses the way Go's
//! `encoding/xml` fills consul-awsauth's structs (`responses/responses.go`): elements matched by
//! local name (namespaces ignored), unknown elements skipped, only direct character data kept,
//! a repeated single element overwriting the earlier one, and decoding stopping at the end of the
//! root element.
//!
//! Spec: consul-aws-iam §2.4 response checks 4–5, §2.8.

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError};
use quick_xml::events::Event;

use super::login::LoginError;
use super::token::EntityRequestType;

/// Go's `encoding/xml` depth limit.
const MAX_XML_DEPTH: usize = 10_000;

/// The elements a response parser reads: a name and the children it reads under it. Only these
/// are kept while decoding; every other element is still parsed and checked (syntax, attributes,
/// entities, depth, end names) but then dropped, as Go's decoder skips elements that no struct
/// field names. A leaf (no children) keeps its direct character data; a container's is never
/// read, so it is not collected.
#[derive(Debug)]
struct Want {
    name: &'static str,
    children: &'static [Want],
}

const fn leaf(name: &'static str) -> Want {
    Want {
        name,
        children: &[],
    }
}

/// `GetCallerIdentityResponse` as consul-awsauth reads it.
const STS_SCHEMA: Want = Want {
    name: "GetCallerIdentityResponse",
    children: &[Want {
        name: "GetCallerIdentityResult",
        children: &[leaf("Arn"), leaf("UserId"), leaf("Account")],
    }],
};

/// `Tags/member/{Key,Value}`, shared by roles and users.
const TAGS: Want = Want {
    name: "Tags",
    children: &[Want {
        name: "member",
        children: &[leaf("Key"), leaf("Value")],
    }],
};

/// `GetRoleResponse` as consul-awsauth reads it.
const GET_ROLE_SCHEMA: Want = Want {
    name: "GetRoleResponse",
    children: &[Want {
        name: "GetRoleResult",
        children: &[Want {
            name: "Role",
            children: &[
                leaf("Arn"),
                leaf("Path"),
                leaf("RoleId"),
                leaf("RoleName"),
                TAGS,
            ],
        }],
    }],
};

/// `GetUserResponse` as consul-awsauth reads it.
const GET_USER_SCHEMA: Want = Want {
    name: "GetUserResponse",
    children: &[Want {
        name: "GetUserResult",
        children: &[Want {
            name: "User",
            children: &[
                leaf("Arn"),
                leaf("Path"),
                leaf("UserId"),
                leaf("UserName"),
                TAGS,
            ],
        }],
    }],
};

/// One kept element: its schema entry, direct character data (leaves only), kept children.
#[derive(Debug)]
struct Node {
    want: &'static Want,
    text: String,
    children: Vec<Node>,
}

/// An open element on the decoder's stack: kept, or parsed and dropped.
enum Frame {
    Kept(Node),
    Skipped,
}

impl Node {
    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.want.name == name)
    }

    /// Only leaves are read as text ([`Want`]).
    fn collects_text(&self) -> bool {
        self.want.children.is_empty()
    }

    /// A Go `string` field: the last matching child's text wins.
    fn field(&self, name: &str) -> Option<&str> {
        self.children
            .iter()
            .rev()
            .find(|c| c.want.name == name)
            .map(|c| c.text.as_str())
    }
}

fn line_of(body: &str, pos: u64) -> usize {
    let end = usize::try_from(pos).unwrap_or(usize::MAX).min(body.len());
    body.as_bytes()
        .get(..end)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn syntax_error(body: &str, pos: u64, msg: &str) -> String {
    format!("XML syntax error on line {}: {msg}", line_of(body, pos))
}

fn render_xml_error(e: &XmlError) -> String {
    match e {
        XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            format!("element <{expected}> closed by </{found}>")
        }
        other => other.to_string(),
    }
}

fn resolve_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Decodes the root element, which must be named `root.name` (Go: `expected element type <root>
/// but have <other>`, reported as soon as the root start tag is read), keeping what `root` names.
fn decode_root(body: &[u8], root: &'static Want) -> Result<Node, String> {
    let body = std::str::from_utf8(body).map_err(|e| {
        let text =
            String::from_utf8_lossy(body.get(..e.valid_up_to()).unwrap_or_default()).into_owned();
        syntax_error(&text, u64::MAX, "invalid UTF-8")
    })?;
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| syntax_error(body, reader.error_position(), &render_xml_error(&e)))?;
        match event {
            Event::Start(s) => {
                check_attributes(&s)
                    .map_err(|m| syntax_error(body, reader.buffer_position(), &m))?;
                let node = open(&stack, s.local_name().as_ref(), root)?;
                stack.push(node);
            }
            Event::Empty(s) => {
                check_attributes(&s)
                    .map_err(|m| syntax_error(body, reader.buffer_position(), &m))?;
                let node = open(&stack, s.local_name().as_ref(), root)?;
                if let Some(done) = close(&mut stack, node) {
                    return Ok(done);
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err(syntax_error(
                        body,
                        reader.buffer_position(),
                        "unexpected end element",
                    ));
                };
                if let Some(done) = close(&mut stack, node) {
                    return Ok(done);
                }
            }
            Event::Text(t) => {
                if let Some(Frame::Kept(top)) = stack.last_mut()
                    && top.collects_text()
                {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(Frame::Kept(top)) = stack.last_mut()
                    && top.collects_text()
                {
                    top.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    resolve_entity(&r)
                };
                let Some(ch) = ch else {
                    return Err(syntax_error(
                        body,
                        reader.buffer_position(),
                        &format!("invalid character entity &{};", &*r),
                    ));
                };
                if let Some(Frame::Kept(top)) = stack.last_mut()
                    && top.collects_text()
                {
                    top.text.push(ch);
                }
            }
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding()
                    && !enc.eq_ignore_ascii_case("utf-8")
                {
                    return Err(format!(
                        "xml: encoding \"{enc}\" declared but Decoder.CharsetReader is nil"
                    ));
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => {
                return Err(if stack.is_empty() {
                    "EOF".to_owned()
                } else {
                    syntax_error(body, reader.buffer_position(), "unexpected EOF")
                });
            }
        }
    }
}

/// Go's decoder rejects malformed attributes (e.g. unquoted values); quick-xml parses them
/// lazily, so walk them once.
fn check_attributes(s: &quick_xml::events::BytesStart<'_>) -> Result<(), String> {
    for a in s.attributes().with_checks(false) {
        a.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Starts an element; checks the root name and the depth. The element is kept when its parent
/// is kept and names it among its wanted children.
fn open(stack: &[Frame], local_name: &str, root: &'static Want) -> Result<Frame, String> {
    if stack.is_empty() && local_name != root.name {
        return Err(format!(
            "expected element type <{}> but have <{local_name}>",
            root.name
        ));
    }
    if stack.len() >= MAX_XML_DEPTH {
        return Err("exceeded max depth".to_owned());
    }
    let want = match stack.last() {
        None => Some(root),
        Some(Frame::Kept(parent)) => parent.want.children.iter().find(|w| w.name == local_name),
        Some(Frame::Skipped) => None,
    };
    Ok(match want {
        Some(want) => Frame::Kept(Node {
            want,
            text: String::new(),
            children: Vec::new(),
        }),
        None => Frame::Skipped,
    })
}

/// Attaches a finished element to its parent; returns the root when it closes.
fn close(stack: &mut [Frame], frame: Frame) -> Option<Node> {
    match (stack.last_mut(), frame) {
        (Some(Frame::Kept(parent)), Frame::Kept(node)) => {
            parent.children.push(node);
            None
        }
        (Some(_), _) => None,
        (None, Frame::Kept(root)) => Some(root),
        // The root is always kept ([`open`]); an unkept one would end decoding empty-handed.
        (None, Frame::Skipped) => None,
    }
}

/// The `GetCallerIdentityResult` fields Consul uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallerIdentity {
    pub(crate) arn: String,
    pub(crate) user_id: String,
    pub(crate) account: String,
}

/// consul-awsauth `parseGetCallerIdentityResponse` + the result count check.
pub(crate) fn parse_get_caller_identity(body: &[u8]) -> Result<CallerIdentity, LoginError> {
    // `from_utf8` first: it borrows valid input after a word-at-a-time check, where the lossy
    // decoder walks every byte to the same result.
    let text = match std::str::from_utf8(body) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(body),
    };
    let trimmed = text.trim();
    if !trimmed.starts_with("<GetCallerIdentityResponse") && !trimmed.starts_with("<?xml") {
        return Err(LoginError::ParseSts);
    }
    let root = decode_root(trimmed.as_bytes(), &STS_SCHEMA).map_err(|_| LoginError::ParseSts)?;
    let results: Vec<&Node> = root.children_named("GetCallerIdentityResult").collect();
    let [result] = results.as_slice() else {
        return Err(LoginError::StsIdentityCount(results.len()));
    };
    Ok(CallerIdentity {
        arn: result.field("Arn").unwrap_or_default().to_owned(),
        user_id: result.field("UserId").unwrap_or_default().to_owned(),
        account: result.field("Account").unwrap_or_default().to_owned(),
    })
}

/// An IAM role or user as `GetRole`/`GetUser` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IamEntity {
    pub(crate) arn: String,
    pub(crate) path: String,
    /// `RoleId` or `UserId`.
    pub(crate) id: String,
    /// `RoleName` or `UserName`.
    pub(crate) name: String,
    /// `Tags/member/{Key,Value}` in document order.
    pub(crate) tags: Vec<(String, String)>,
}

/// consul-awsauth `parseGetIAMEntityResponse`: the body is not trimmed; errors are reported as
/// `error parsing IAM response: <err>`.
pub(crate) fn parse_iam_entity(
    body: &[u8],
    kind: EntityRequestType,
) -> Result<IamEntity, LoginError> {
    parse_iam_entity_inner(body, kind).map_err(LoginError::ParseIam)
}

fn parse_iam_entity_inner(body: &[u8], kind: EntityRequestType) -> Result<IamEntity, String> {
    if !body.starts_with(b"<GetRoleResponse")
        && !body.starts_with(b"<GetUserResponse")
        && !body.starts_with(b"<?xml")
    {
        return Err("body of GetRole or GetUser is invalid".to_owned());
    }
    let (schema, result_name, entity_name, id_name, name_name, label) = match kind {
        EntityRequestType::GetRole => (
            &GET_ROLE_SCHEMA,
            "GetRoleResult",
            "Role",
            "RoleId",
            "RoleName",
            "GetRole",
        ),
        EntityRequestType::GetUser => (
            &GET_USER_SCHEMA,
            "GetUserResult",
            "User",
            "UserId",
            "UserName",
            "GetUser",
        ),
    };
    let root = decode_root(body, schema)?;
    let results: Vec<&Node> = root.children_named(result_name).collect();
    let [result] = results.as_slice() else {
        return Err(format!(
            "received {} identities in {label} response but expected 1",
            results.len()
        ));
    };
    // Go unmarshals repeated <Role> elements into the same struct: later fields overwrite,
    // tag members accumulate.
    let mut entity = IamEntity::default();
    for e in result.children_named(entity_name) {
        if let Some(v) = e.field("Arn") {
            entity.arn = v.to_owned();
        }
        if let Some(v) = e.field("Path") {
            entity.path = v.to_owned();
        }
        if let Some(v) = e.field(id_name) {
            entity.id = v.to_owned();
        }
        if let Some(v) = e.field(name_name) {
            entity.name = v.to_owned();
        }
        for tags in e.children_named("Tags") {
            for m in tags.children_named("member") {
                entity.tags.push((
                    m.field("Key").unwrap_or_default().to_owned(),
                    m.field("Value").unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    Ok(entity)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STS: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><UserId>AROAX:s</UserId><Account>1</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

    #[test]
    fn sts_shapes() {
        let id = parse_get_caller_identity(STS.as_bytes()).unwrap();
        assert_eq!(
            id,
            CallerIdentity {
                arn: "arn:aws:sts::1:assumed-role/r/s".into(),
                user_id: "AROAX:s".into(),
                account: "1".into()
            }
        );
        let decl = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{STS}");
        assert!(parse_get_caller_identity(decl.as_bytes()).is_ok());
        assert!(parse_get_caller_identity(format!("\n  {STS}  trailing").as_bytes()).is_ok());
        let err = |b: &str| {
            parse_get_caller_identity(b.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("hello"), "error parsing STS response");
        assert_eq!(
            err("<GetRoleResponse></GetRoleResponse>"),
            "error parsing STS response"
        );
        assert_eq!(
            err("<GetCallerIdentityResponse><GetCallerIdentityResult>"),
            "error parsing STS response"
        );
        assert_eq!(
            err("<GetCallerIdentityResponse/>"),
            "received 0 identities in STS response but expected 1"
        );
        assert_eq!(
            err("<GetCallerIdentityResponse a=b></GetCallerIdentityResponse>"),
            "error parsing STS response"
        );
        assert_eq!(
            err(
                "<GetCallerIdentityResponse><GetCallerIdentityResult/><GetCallerIdentityResult/></GetCallerIdentityResponse>"
            ),
            "received 2 identities in STS response but expected 1"
        );
        // Namespaced children, entities, CDATA, nested unknown elements.
        let odd = "<GetCallerIdentityResponse><a:GetCallerIdentityResult xmlns:a=\"x\"><a:Arn>a&amp;b<![CDATA[<c>]]><x>skip</x>&#33;</a:Arn></a:GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(
            parse_get_caller_identity(odd.as_bytes()).unwrap().arn,
            "a&b<c>!"
        );
    }

    #[test]
    fn iam_shapes() {
        let role = "<GetRoleResponse><GetRoleResult><Role><Path>/ecs/</Path><RoleId>AROAX</RoleId><RoleName>r</RoleName><Arn>arn:aws:iam::1:role/ecs/r</Arn><Tags><member><Key>k</Key><Value>v</Value></member><member><Key>e</Key><Value></Value></member></Tags></Role></GetRoleResult></GetRoleResponse>";
        let e = parse_iam_entity(role.as_bytes(), EntityRequestType::GetRole).unwrap();
        assert_eq!(e.path, "/ecs/");
        assert_eq!(e.id, "AROAX");
        assert_eq!(
            e.tags,
            vec![("k".into(), "v".into()), ("e".into(), String::new())]
        );
        let err = |b: &str, k| parse_iam_entity(b.as_bytes(), k).unwrap_err().to_string();
        assert_eq!(
            err(&format!("\n{role}"), EntityRequestType::GetRole),
            "error parsing IAM response: body of GetRole or GetUser is invalid"
        );
        assert_eq!(
            err(role, EntityRequestType::GetUser),
            "error parsing IAM response: expected element type <GetUserResponse> but have <GetRoleResponse>"
        );
        assert_eq!(
            err(
                "<GetRoleResponse></GetRoleResponse>",
                EntityRequestType::GetRole
            ),
            "error parsing IAM response: received 0 identities in GetRole response but expected 1"
        );
        assert_eq!(
            err(
                "<GetUserResponse><GetUserResult/><GetUserResult/></GetUserResponse>",
                EntityRequestType::GetUser
            ),
            "error parsing IAM response: received 2 identities in GetUser response but expected 1"
        );
        assert_eq!(
            err(
                "<GetRoleResponse><GetRoleResult>",
                EntityRequestType::GetRole
            ),
            "error parsing IAM response: XML syntax error on line 1: unexpected EOF"
        );
        assert_eq!(
            err(
                "<GetRoleResponse>\n<a></b></GetRoleResponse>",
                EntityRequestType::GetRole
            ),
            "error parsing IAM response: XML syntax error on line 2: element <a> closed by </b>"
        );
    }

    #[test]
    fn elements_no_parser_reads_are_still_checked() {
        // Elements outside the schema are dropped, not skipped unchecked: their syntax,
        // attributes and entities decide the verdict exactly as for the elements read.
        let err = |b: &str| parse_iam_entity(b.as_bytes(), EntityRequestType::GetRole);
        let role = "<Role><RoleId>AROAX</RoleId><Arn>arn:aws:iam::1:role/r</Arn></Role>";
        let ok = format!(
            "<GetRoleResponse><GetRoleResult>{role}<x>t &amp; <y>&#33;</y></x></GetRoleResult>\n<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRoleResponse>"
        );
        let e = err(&ok).unwrap();
        assert_eq!(
            (e.id.as_str(), e.arn.as_str()),
            ("AROAX", "arn:aws:iam::1:role/r")
        );
        let bad_entity = format!(
            "<GetRoleResponse><GetRoleResult>{role}</GetRoleResult>\n<ResponseMetadata>&bogus;</ResponseMetadata></GetRoleResponse>"
        );
        assert_eq!(
            err(&bad_entity).unwrap_err().to_string(),
            "error parsing IAM response: XML syntax error on line 2: invalid character entity &bogus;"
        );
        let bad_attr = format!(
            "<GetRoleResponse><GetRoleResult>{role}</GetRoleResult><ResponseMetadata a=b/></GetRoleResponse>"
        );
        assert!(err(&bad_attr).is_err());
        let mismatched = format!(
            "<GetRoleResponse><GetRoleResult>{role}<x><y></x></GetRoleResult></GetRoleResponse>"
        );
        assert_eq!(
            err(&mismatched).unwrap_err().to_string(),
            "error parsing IAM response: XML syntax error on line 1: element <y> closed by </x>"
        );
        // A container's own character data is never read; a leaf's is, around skipped children.
        let sts = "<GetCallerIdentityResponse>text<GetCallerIdentityResult>more<Arn>a<Z>skip</Z>b</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(parse_get_caller_identity(sts.as_bytes()).unwrap().arn, "ab");
    }
}
