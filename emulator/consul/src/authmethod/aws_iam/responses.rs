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

/// One element: local name, direct character data, children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// A Go `string` field: the last matching child's text wins.
    fn field(&self, name: &str) -> Option<&str> {
        self.children
            .iter()
            .rev()
            .find(|c| c.name == name)
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

/// Decodes the root element, which must be named `root` (Go: `expected element type <root> but
/// have <other>`, reported as soon as the root start tag is read).
fn decode_root(body: &[u8], root: &str) -> Result<Node, String> {
    let body = std::str::from_utf8(body).map_err(|e| {
        let text =
            String::from_utf8_lossy(body.get(..e.valid_up_to()).unwrap_or_default()).into_owned();
        syntax_error(&text, u64::MAX, "invalid UTF-8")
    })?;
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
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
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
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
                if let Some(top) = stack.last_mut() {
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

/// Starts an element; checks the root name and the depth.
fn open(stack: &[Node], local_name: &str, root: &str) -> Result<Node, String> {
    let name = local_name.to_owned();
    if stack.is_empty() && name != root {
        return Err(format!("expected element type <{root}> but have <{name}>"));
    }
    if stack.len() >= MAX_XML_DEPTH {
        return Err("exceeded max depth".to_owned());
    }
    Ok(Node {
        name,
        ..Node::default()
    })
}

/// Attaches a finished element to its parent; returns the root when it closes.
fn close(stack: &mut [Node], node: Node) -> Option<Node> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(node);
            None
        }
        None => Some(node),
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
    let root = decode_root(trimmed.as_bytes(), "GetCallerIdentityResponse")
        .map_err(|_| LoginError::ParseSts)?;
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
    let (root_name, result_name, entity_name, id_name, name_name, label) = match kind {
        EntityRequestType::GetRole => (
            "GetRoleResponse",
            "GetRoleResult",
            "Role",
            "RoleId",
            "RoleName",
            "GetRole",
        ),
        EntityRequestType::GetUser => (
            "GetUserResponse",
            "GetUserResult",
            "User",
            "UserId",
            "UserName",
            "GetUser",
        ),
    };
    let root = decode_root(body, root_name)?;
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
}
