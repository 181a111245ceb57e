//! The form in which the ring holds an entry: the fixed-size facts inline and every string
//! in one buffer.
//!
//! A [`JournalEntry`] owns about 25 separate heap blocks (each header name is a `String`);
//! held 100,000 at a time that was ≈ 1.7 KiB per entry and most of `serve`'s memory under
//! load, and dropping the oldest entry freed 25 cold blocks on every request. Packed, an
//! entry is two blocks of about a third of that size. Readers get [`JournalEntry`] values
//! back, unpacked on demand (docs/performance.md, "Allocator, packed journal, header limit").

use super::{AuthLocation, JournalEntry, JournalScope, JournalService, ServerIdHeader, Verdict};

/// An entry packed: `text` holds every string, one after the other, in the order
/// [`strings`] visits them; `ends[i]` is where the i-th string ends.
#[derive(Debug)]
pub(super) struct Packed {
    pub(super) seq: u64,
    text: Box<str>,
    ends: Box<[u32]>,
    /// Which optional strings are present, one bit per [`Opt`].
    present: u16,
    /// Lengths of the four lists, in the order [`strings`] visits them.
    lens: [u32; 4],
    /// The HTTP status of a rejection; `None` when accepted.
    rejected: Option<u16>,
    service: JournalService,
    auth_location: Option<AuthLocation>,
    session_token_signed: Option<bool>,
    server_id_signed: bool,
}

/// The optional strings, one presence bit each.
#[derive(Clone, Copy)]
enum Opt {
    Action,
    Host,
    AccessKeyId,
    Scope,
    CallerArn,
    ServerId,
    GetEntityBody,
    CanonicalRequest,
    StringToSign,
    Hint,
    Fault,
}

impl Opt {
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// Calls `f` with every string of `e` in packing order, and returns the presence bits and
/// list lengths that order implies. The one definition of the layout: [`pack`] and
/// [`Packed::unpack`] both follow it.
fn strings<'a>(e: &'a JournalEntry, mut f: impl FnMut(&'a str)) -> (u16, [u32; 4]) {
    let mut present = 0;
    let mut opt = |o: Opt, s: Option<&'a str>, f: &mut dyn FnMut(&'a str)| {
        if let Some(s) = s {
            present |= o.bit();
            f(s);
        }
    };
    f(&e.time);
    f(&e.request_id);
    f(&e.method);
    f(&e.path);
    if let Verdict::Rejected {
        code,
        message,
        check,
        ..
    } = &e.verdict
    {
        f(code);
        f(message);
        f(check);
    }
    opt(Opt::Action, e.action.as_deref(), &mut f);
    opt(Opt::Host, e.host.as_deref(), &mut f);
    opt(Opt::AccessKeyId, e.access_key_id.as_deref(), &mut f);
    if let Some(scope) = &e.scope {
        opt(Opt::Scope, Some(&scope.date), &mut f);
        f(&scope.region);
        f(&scope.service);
    }
    opt(Opt::CallerArn, e.caller_arn.as_deref(), &mut f);
    opt(
        Opt::ServerId,
        e.server_id.as_ref().map(|s| s.value.as_str()),
        &mut f,
    );
    opt(Opt::GetEntityBody, e.get_entity_body.as_deref(), &mut f);
    opt(
        Opt::CanonicalRequest,
        e.canonical_request.as_deref(),
        &mut f,
    );
    opt(Opt::StringToSign, e.string_to_sign.as_deref(), &mut f);
    opt(Opt::Hint, e.hint.as_deref(), &mut f);
    opt(Opt::Fault, e.fault.as_deref(), &mut f);
    let mut lens = [0; 4];
    let lists = [
        &e.query_params,
        &e.signed_headers,
        &e.header_names,
        &e.get_entity_headers,
    ];
    for (len, list) in lens.iter_mut().zip(lists) {
        // A list's items are names from one request head or body, far fewer than 2^32.
        *len = u32::try_from(list.len()).unwrap_or(u32::MAX);
        list.iter().for_each(|s| f(s));
    }
    (present, lens)
}

/// Packs `e` into two allocations.
pub(super) fn pack(e: &JournalEntry) -> Packed {
    let (mut total, mut count) = (0, 0);
    strings(e, |s| {
        total += s.len();
        count += 1;
    });
    let mut text = String::with_capacity(total);
    let mut ends = Vec::with_capacity(count);
    let (present, lens) = strings(e, |s| {
        text.push_str(s);
        // The header and body limits keep an entry's text far below 4 GiB.
        ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
    });
    let rejected = match &e.verdict {
        Verdict::Accepted => None,
        Verdict::Rejected { status, .. } => Some(*status),
    };
    Packed {
        seq: e.seq,
        text: text.into_boxed_str(),
        ends: ends.into_boxed_slice(),
        present,
        lens,
        rejected,
        service: e.service,
        auth_location: e.auth_location,
        session_token_signed: e.session_token_signed,
        server_id_signed: e.server_id.as_ref().is_some_and(|s| s.signed),
    }
}

/// Reads the strings of a [`Packed`] back in order.
struct Cursor<'a> {
    packed: &'a Packed,
    next: usize,
}

impl Cursor<'_> {
    fn string(&mut self) -> String {
        let p = self.packed;
        let start = match self.next {
            0 => 0,
            i => p.ends.get(i - 1).copied().unwrap_or(0) as usize,
        };
        let end = p.ends.get(self.next).copied().unwrap_or(0) as usize;
        self.next += 1;
        // Every boundary is the end of a whole `&str`, so this slice always exists.
        p.text.get(start..end).unwrap_or_default().to_owned()
    }

    fn opt(&mut self, o: Opt) -> Option<String> {
        (self.packed.present & o.bit() != 0).then(|| self.string())
    }

    fn list(&mut self, len: u32) -> Vec<String> {
        (0..len).map(|_| self.string()).collect()
    }
}

impl Packed {
    /// The entry as it was recorded.
    pub(super) fn unpack(&self) -> JournalEntry {
        let mut c = Cursor {
            packed: self,
            next: 0,
        };
        let time = c.string();
        let request_id = c.string();
        let method = c.string();
        let path = c.string();
        let verdict = match self.rejected {
            None => Verdict::Accepted,
            Some(status) => Verdict::Rejected {
                status,
                code: c.string(),
                message: c.string(),
                check: c.string(),
            },
        };
        let action = c.opt(Opt::Action);
        let host = c.opt(Opt::Host);
        let access_key_id = c.opt(Opt::AccessKeyId);
        let scope = c.opt(Opt::Scope).map(|date| JournalScope {
            date,
            region: c.string(),
            service: c.string(),
        });
        let caller_arn = c.opt(Opt::CallerArn);
        let server_id = c.opt(Opt::ServerId).map(|value| ServerIdHeader {
            value,
            signed: self.server_id_signed,
        });
        let get_entity_body = c.opt(Opt::GetEntityBody);
        let canonical_request = c.opt(Opt::CanonicalRequest);
        let string_to_sign = c.opt(Opt::StringToSign);
        let hint = c.opt(Opt::Hint);
        let fault = c.opt(Opt::Fault);
        let [q, s, h, g] = self.lens;
        JournalEntry {
            seq: self.seq,
            time,
            request_id,
            verdict,
            service: self.service,
            action,
            method,
            path,
            query_params: c.list(q),
            host,
            access_key_id,
            scope,
            signed_headers: c.list(s),
            auth_location: self.auth_location,
            session_token_signed: self.session_token_signed,
            caller_arn,
            header_names: c.list(h),
            server_id,
            get_entity_headers: c.list(g),
            get_entity_body,
            canonical_request,
            string_to_sign,
            hint,
            fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> JournalEntry {
        let mut e = JournalEntry::new("req-1".into(), "POST", "/sts/");
        e.seq = 7;
        e.time = "2026-12-06T03:00:00Z".into();
        e.verdict = Verdict::Rejected {
            status: 403,
            code: "SignatureDoesNotMatch".into(),
            message: "The request signature we calculated does not match…".into(),
            check: "signature".into(),
        };
        e.service = JournalService::Iam;
        e.action = Some("GetRole".into());
        e.query_params = vec!["X-Amz-Date".into(), "".into()];
        e.host = Some("iam.amazonaws.com".into());
        e.access_key_id = Some("AKIDEXAMPLE".into());
        e.scope = Some(JournalScope {
            date: "20261206".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
        });
        e.signed_headers = vec!["host".into(), "x-amz-date".into()];
        e.auth_location = Some(AuthLocation::Query);
        e.session_token_signed = Some(false);
        e.caller_arn = Some("arn:aws:iam::123456789012:user/ü".into());
        e.header_names = vec!["host".into(), "content-type".into(), "x-amz-date".into()];
        e.server_id = Some(ServerIdHeader {
            value: "vault.example.com".into(),
            signed: true,
        });
        e.get_entity_headers = vec!["x-consul-iam-getentity-body".into()];
        e.get_entity_body = Some("Action=GetRole&RoleName=r".into());
        e.canonical_request = Some("POST\n/\n\nhost:iam\n\nhost\nabc".into());
        e.string_to_sign = Some("AWS4-HMAC-SHA256\n…".into());
        e.hint = Some("a hint".into());
        e.fault = Some("status 500".into());
        e
    }

    fn json(e: &JournalEntry) -> serde_json::Value {
        serde_json::to_value(e).unwrap()
    }

    #[test]
    fn every_field_survives_packing() {
        let e = full();
        assert_eq!(json(&pack(&e).unpack()), json(&e));
    }

    #[test]
    fn a_bare_entry_survives_packing() {
        let mut e = JournalEntry::new(String::new(), "GET", "/");
        e.seq = 1;
        let back = pack(&e).unpack();
        assert_eq!(json(&back), json(&e));
        assert!(back.scope.is_none() && back.server_id.is_none() && back.hint.is_none());
    }

    #[test]
    fn long_lists_are_kept_whole() {
        // A 400 KiB query can carry far more than 65,535 parameter names.
        let mut e = JournalEntry::new("r".into(), "GET", "/");
        e.query_params = (0..70_000).map(|i| format!("p{i}")).collect();
        let back = pack(&e).unpack();
        assert_eq!(back.query_params.len(), 70_000);
        assert_eq!(back.query_params.last().map(String::as_str), Some("p69999"));
    }

    #[test]
    fn each_optional_field_alone_survives_packing() {
        // Any one field present and the rest absent: a layout slip (a field read in another
        // order than written) shows as a field read into its neighbour.
        let f = full();
        let empty = || JournalEntry::new("r".into(), "GET", "/");
        let variants: Vec<JournalEntry> = vec![
            JournalEntry {
                action: f.action.clone(),
                ..empty()
            },
            JournalEntry {
                host: f.host.clone(),
                ..empty()
            },
            JournalEntry {
                access_key_id: f.access_key_id.clone(),
                ..empty()
            },
            JournalEntry {
                scope: f.scope.clone(),
                ..empty()
            },
            JournalEntry {
                caller_arn: f.caller_arn.clone(),
                ..empty()
            },
            JournalEntry {
                server_id: f.server_id.clone(),
                ..empty()
            },
            JournalEntry {
                get_entity_body: f.get_entity_body.clone(),
                ..empty()
            },
            JournalEntry {
                canonical_request: f.canonical_request.clone(),
                ..empty()
            },
            JournalEntry {
                string_to_sign: f.string_to_sign.clone(),
                ..empty()
            },
            JournalEntry {
                hint: f.hint.clone(),
                ..empty()
            },
            JournalEntry {
                fault: f.fault.clone(),
                ..empty()
            },
            JournalEntry {
                header_names: f.header_names.clone(),
                ..empty()
            },
            JournalEntry {
                verdict: f.verdict.clone(),
                ..empty()
            },
        ];
        for e in variants {
            assert_eq!(json(&pack(&e).unpack()), json(&e));
        }
    }

    #[test]
    fn a_typical_entry_packs_smaller_than_its_inline_part_alone() {
        // An accepted GetCallerIdentity as the consul-ecs client sends it.
        let mut e = JournalEntry::new("b2c1d0e4-5f6a-4b7c-8d9e-0f1a2b3c4d5e".into(), "POST", "/");
        e.time = "2026-12-06T03:00:00Z".into();
        e.action = Some("GetCallerIdentity".into());
        e.host = Some("sts.us-east-1.amazonaws.com".into());
        e.access_key_id = Some("ASIAEXAMPLEEXAMPLE01".into());
        e.scope = Some(JournalScope {
            date: "20261206".into(),
            region: "us-east-1".into(),
            service: "sts".into(),
        });
        e.caller_arn = Some("arn:aws:sts::123456789012:assumed-role/app/task".into());
        e.header_names = [
            "host",
            "user-agent",
            "content-length",
            "authorization",
            "content-type",
            "x-amz-date",
            "x-amz-security-token",
            "accept-encoding",
        ]
        .map(String::from)
        .to_vec();
        e.signed_headers = [
            "content-length",
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token",
        ]
        .map(String::from)
        .to_vec();
        let p = pack(&e);
        let packed = std::mem::size_of::<Packed>() + p.text.len() + p.ends.len() * 4;
        assert!(
            packed < std::mem::size_of::<JournalEntry>(),
            "{packed} >= {}",
            std::mem::size_of::<JournalEntry>()
        );
        assert_eq!(json(&p.unpack()), json(&e));
    }
}
