//! Record batch (magic 2) headers: parsing, CRC checking, base-offset patching.
//!
//! Batches are stored exactly as the producer sent them (compressed or not); only the
//! base offset, which the CRC does not cover, is rewritten when they are served.

use bytes::{Buf, Bytes};

use crate::errors;

/// Bytes before the first record of a magic-2 batch.
pub const HEADER_LEN: usize = 61;
const CRC_START: usize = 21;

/// What the broker needs to know about one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchInfo {
    pub bytes: Bytes,
    /// Number of offsets the batch spans (`last_offset_delta + 1`).
    pub offset_count: i64,
    pub max_timestamp: i64,
    pub base_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
    pub transactional: bool,
    pub control: bool,
}

/// Split a Produce partition's `records` into batches, checking each one.
/// Errors are Kafka error codes for the partition.
pub fn split_batches(mut data: Bytes) -> Result<Vec<BatchInfo>, i16> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < 17 {
            return Err(errors::CORRUPT_MESSAGE);
        }
        let batch_len = i32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        let magic = data[16] as i8;
        if magic != 2 {
            return Err(errors::UNSUPPORTED_FOR_MESSAGE_FORMAT);
        }
        let total = usize::try_from(batch_len)
            .ok()
            .and_then(|l| l.checked_add(12))
            .filter(|&t| t >= HEADER_LEN && t <= data.len())
            .ok_or(errors::CORRUPT_MESSAGE)?;
        let bytes = data.split_to(total);
        out.push(parse_batch(bytes)?);
    }
    if out.is_empty() {
        return Err(errors::INVALID_RECORD);
    }
    Ok(out)
}

fn parse_batch(bytes: Bytes) -> Result<BatchInfo, i16> {
    let mut h = &bytes[17..HEADER_LEN];
    let crc = h.get_u32();
    if crc32c::crc32c(&bytes[CRC_START..]) != crc {
        return Err(errors::CORRUPT_MESSAGE);
    }
    let attributes = h.get_i16();
    let last_offset_delta = h.get_i32();
    let base_timestamp = h.get_i64();
    let max_timestamp = h.get_i64();
    let producer_id = h.get_i64();
    let producer_epoch = h.get_i16();
    let base_sequence = h.get_i32();
    let record_count = h.get_i32();
    if last_offset_delta < 0 || record_count < 0 || record_count > last_offset_delta + 1 {
        return Err(errors::CORRUPT_MESSAGE);
    }
    Ok(BatchInfo {
        bytes,
        offset_count: i64::from(last_offset_delta) + 1,
        max_timestamp,
        base_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
        transactional: attributes & 0x10 != 0,
        control: attributes & 0x20 != 0,
    })
}

/// A control batch holding one COMMIT or ABORT marker for a producer's transaction; its
/// base offset is 0, patched like any other when served.
pub fn control_batch(producer_id: i64, producer_epoch: i16, commit: bool, now_ms: i64) -> Bytes {
    // One control record: attributes, timestamp delta, offset delta, key (version, type),
    // value (version, coordinator epoch), no headers; lengths are zigzag varints.
    let record: [u8; 16] = {
        let kind = u8::from(commit);
        [0, 0, 0, 8, 0, 0, 0, kind, 12, 0, 0, 0, 0, 0, 0, 0]
    };
    let mut b = Vec::with_capacity(HEADER_LEN + 1 + record.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    let batch_len = (HEADER_LEN + 1 + record.len() - 12) as i32;
    b.extend_from_slice(&batch_len.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.push(2);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&0x30i16.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&now_ms.to_be_bytes());
    b.extend_from_slice(&now_ms.to_be_bytes());
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.push(32);
    b.extend_from_slice(&record);
    let crc = crc32c::crc32c(&b[CRC_START..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

/// Stamp a stored batch as served: the base offset the log assigned and the partition's
/// leader epoch (producers send -1; neither field is covered by the CRC).
pub fn patch_served(dst: &mut [u8], base_offset: i64, leader_epoch: i32) {
    if dst.len() >= 16 {
        dst[..8].copy_from_slice(&base_offset.to_be_bytes());
        dst[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    pub fn batch(values: &[&str], compression: Compression) -> Bytes {
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: 1000 + i as i64,
                key: None,
                value: Some(Bytes::copy_from_slice(v.as_bytes())),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        let opts = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &opts).expect("encode");
        let _ = StrBytes::new();
        buf.freeze()
    }

    #[test]
    fn splits_and_checks_batches() {
        let mut all = bytes::BytesMut::new();
        all.extend_from_slice(&batch(&["a", "b", "c"], Compression::None));
        all.extend_from_slice(&batch(&["d"], Compression::None));
        let batches = split_batches(all.freeze()).expect("valid");
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].offset_count, 3);
        assert_eq!(batches[0].record_count, 3);
        assert_eq!(batches[0].max_timestamp, 1002);
        assert_eq!(batches[1].offset_count, 1);
    }

    #[test]
    fn control_batches_decode_as_markers() {
        use kafka_protocol::records::RecordBatchDecoder;
        for commit in [false, true] {
            let mut bytes = control_batch(7, 3, commit, 1234);
            let info = split_batches(bytes.clone()).expect("valid")[0].clone();
            assert!(info.control && info.transactional);
            assert_eq!(
                (info.producer_id, info.producer_epoch, info.offset_count),
                (7, 3, 1)
            );
            let set = RecordBatchDecoder::decode(&mut bytes).expect("decodes");
            let r = &set.records[0];
            assert!(r.control && r.transactional);
            let key = r.key.clone().expect("control key");
            assert_eq!(&key[..], &[0, 0, 0, u8::from(commit)]);
        }
    }

    #[test]
    fn corrupt_crc_is_rejected() {
        let mut b = batch(&["hello"], Compression::None).to_vec();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert_eq!(split_batches(Bytes::from(b)), Err(errors::CORRUPT_MESSAGE));
    }

    #[test]
    fn truncated_batch_is_rejected() {
        let b = batch(&["hello"], Compression::None);
        assert_eq!(
            split_batches(b.slice(..b.len() - 3)),
            Err(errors::CORRUPT_MESSAGE)
        );
        assert_eq!(split_batches(b.slice(..10)), Err(errors::CORRUPT_MESSAGE));
    }
}
