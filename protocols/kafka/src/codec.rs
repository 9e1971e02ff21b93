//! Sans-IO framing: length-prefixed request frames in, encoded response frames out.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::error::{Error, Result};

/// Take one complete frame (without its 4-byte length) off the front of `buf`.
///
/// The length is checked against `max` before anything is allocated, so a hostile prefix
/// cannot make the server reserve memory.
pub fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let len = usize::try_from(len).map_err(|_| Error::Malformed("negative frame size".into()))?;
    if len > max {
        return Err(Error::FrameTooLarge(len));
    }
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// The fixed start of every request header: enough to answer even a request whose body
/// (or whose version) this broker cannot parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preamble {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

pub fn preamble(frame: &[u8]) -> Result<Preamble> {
    if frame.len() < 8 {
        return Err(Error::Malformed("request shorter than its header".into()));
    }
    Ok(Preamble {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        api_version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    })
}

/// Decode the request header of a known API at a supported version; the rest of `frame`
/// is left as the body.
pub fn decode_header(api_key: ApiKey, version: i16, frame: &mut Bytes) -> Result<RequestHeader> {
    let header_version = api_key.request_header_version(version);
    RequestHeader::decode(frame, header_version)
        .map_err(|e| Error::Malformed(format!("request header: {e}")))
}

/// Decode a request body of type `T`.
pub fn decode_body<T: Decodable>(body: &mut Bytes, version: i16) -> Result<T> {
    T::decode(body, version).map_err(|e| Error::Malformed(e.to_string()))
}

/// Encode a complete response frame: length, header, body.
pub fn encode_response<T: Encodable>(
    correlation_id: i32,
    header_version: i16,
    body: &T,
    version: i16,
) -> Result<Bytes> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    // Sized up front: a fetch response can be tens of MB, and growing a buffer that big by
    // doubling copies it again at every step.
    let size = 4
        + header.compute_size(header_version).unwrap_or(0)
        + body.compute_size(version).unwrap_or(0);
    let mut out = BytesMut::with_capacity(size);
    out.put_i32(0);
    header
        .encode(&mut out, header_version)
        .map_err(|e| Error::Malformed(format!("encode header: {e}")))?;
    body.encode(&mut out, version)
        .map_err(|e| Error::Malformed(format!("encode body: {e}")))?;
    let len = i32::try_from(out.len() - 4).map_err(|_| Error::FrameTooLarge(out.len()))?;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Ok(out.freeze())
}

/// Encode a response frame whose body was built by hand (Produce v0–v2 errors).
pub fn encode_raw_response(correlation_id: i32, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(8 + body.len());
    out.put_i32(4 + body.len() as i32);
    out.put_i32(correlation_id);
    out.put_slice(body);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_bounded_before_allocation() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            take_frame(&mut buf, 1024),
            Err(Error::FrameTooLarge(_))
        ));
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            take_frame(&mut buf, 1024),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn partial_and_whole_frames() {
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert_eq!(take_frame(&mut buf, 1024).ok().flatten(), None);
        buf.extend_from_slice(&[3, 9]);
        let frame = take_frame(&mut buf, 1024).ok().flatten();
        assert_eq!(frame.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn preamble_reads_key_version_and_correlation() {
        let p = preamble(&[0, 18, 0, 9, 0, 0, 0, 7, 0xff]).ok();
        assert_eq!(
            p,
            Some(Preamble {
                api_key: 18,
                api_version: 9,
                correlation_id: 7
            })
        );
        assert!(preamble(&[0, 1]).is_err());
    }
}
