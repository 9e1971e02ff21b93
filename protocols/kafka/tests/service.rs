//! The broker in-process over real TCP, driven by a small client built on kafka-protocol's
//! client-side encoding: version negotiation, idempotent sequences, CRC and frame checks,
//! whole-batch fetches, long polls and durability across a backend restart.

#![allow(clippy::unwrap_used)] // test code: a failed expectation should panic

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use dotdo_backend::SharedBackend;
use dotdo_backend::embedded::{EmbeddedBackend, EmbeddedConfig};
use dotdo_kafka::{Config, Server};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

struct Broker {
    addr: SocketAddr,
    cancel: CancellationToken,
    server: std::sync::Arc<Server>,
}

async fn start(backend: SharedBackend) -> Broker {
    let config = Config {
        group_initial_rebalance_delay_ms: 0,
        ..Config::default()
    };
    let server = Server::new(config, backend).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    server.listening_on(addr);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let s = server.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = c.cancelled() => return,
                Ok((stream, peer)) = listener.accept() => {
                    tokio::spawn(s.clone().serve_connection(stream, peer, c.clone()));
                }
            }
        }
    });
    Broker {
        addr,
        cancel,
        server,
    }
}

struct Client {
    stream: TcpStream,
    correlation: i32,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            correlation: 0,
        }
    }

    async fn send_raw(&mut self, frame: &[u8]) {
        self.stream.write_all(frame).await.unwrap();
    }

    async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    async fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("svc-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, R::header_version(version))
            .unwrap();
        req.encode(&mut body, version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        self.send_raw(&frame).await;
        let mut resp = self.read_frame().await.expect("response");
        let rh = ResponseHeader::decode(&mut resp, R::Response::header_version(version)).unwrap();
        assert_eq!(rh.correlation_id, self.correlation);
        R::Response::decode(&mut resp, version).unwrap()
    }
}

fn batch(values: &[&str], producer: (i64, i16, i32), compression: Compression) -> Bytes {
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.0,
            producer_epoch: producer.1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol starts a new batch when offset - sequence changes.
            sequence: producer.2.max(0) + i as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.freeze()
}

fn produce_req(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records)),
                ]),
        ])
}

fn produce_result(r: &ProduceResponse) -> (i16, i64) {
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn fetch_req(topic: &str, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.into())))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ])
}

/// `(offset, value)` of every record in a fetch response's partition.
fn fetched(r: &FetchResponse) -> Vec<(i64, String)> {
    let mut data = r.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    let mut out = Vec::new();
    while data.has_remaining() {
        let set = RecordBatchDecoder::decode(&mut data).unwrap();
        for rec in set.records {
            out.push((
                rec.offset,
                String::from_utf8(rec.value.unwrap().to_vec()).unwrap(),
            ));
        }
    }
    out
}

async fn create(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default().with_topics(vec![
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_num_partitions(partitions)
            .with_replication_factor(1),
    ]);
    let r = c.call(&req, 5).await;
    assert_eq!(r.topics[0].error_code, 0);
}

fn backend(dir: &std::path::Path) -> SharedBackend {
    EmbeddedBackend::open(EmbeddedConfig::with_data_dir(dir)).unwrap()
}

#[tokio::test]
async fn api_versions_answers_too_new_requests_in_v0_form() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    let ok = c
        .call(
            &ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("t"))
                .with_client_software_version(StrBytes::from_static_str("1")),
            3,
        )
        .await;
    assert_eq!(ok.error_code, 0);
    let produce = ok.api_keys.iter().find(|k| k.api_key == 0).unwrap();
    let fetch = ok.api_keys.iter().find(|k| k.api_key == 1).unwrap();
    assert_eq!(produce.min_version, 0);
    assert!(produce.max_version >= 3 && fetch.max_version >= 4);

    // ApiVersions v99: header v2 layout, answered in v0 with UNSUPPORTED_VERSION.
    let mut frame = BytesMut::new();
    let body: &[u8] = &[0, 18, 0, 99, 0, 0, 0, 42, 0, 1, b'x', 0];
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(body);
    c.send_raw(&frame).await;
    let mut resp = c.read_frame().await.unwrap();
    assert_eq!(resp.get_i32(), 42);
    let v0 = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(v0.error_code, 35);
    assert!(
        v0.api_keys
            .iter()
            .any(|k| k.api_key == 18 && k.max_version == 3)
    );
    // The connection is still usable.
    let again = c.call(&MetadataRequest::default(), 1).await;
    assert_eq!(again.brokers.len(), 1);
    b.cancel.cancel();
}

#[tokio::test]
async fn idempotent_sequences_drop_duplicates_and_reject_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "idem", 1).await;
    let init = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000),
            4,
        )
        .await;
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    let first = batch(&["a", "b"], (pid, 0, 0), Compression::None);
    assert_eq!(
        produce_result(&c.call(&produce_req("idem", 0, first.clone()), 8).await),
        (0, 0)
    );
    // A retry of the same batch is acknowledged with its original offset, not appended.
    assert_eq!(
        produce_result(&c.call(&produce_req("idem", 0, first), 8).await),
        (0, 0)
    );
    // A gap in sequences is OUT_OF_ORDER_SEQUENCE_NUMBER.
    let gap = batch(&["x"], (pid, 0, 5), Compression::None);
    assert_eq!(
        produce_result(&c.call(&produce_req("idem", 0, gap), 8).await).0,
        45
    );
    let next = batch(&["c"], (pid, 0, 2), Compression::Lz4);
    assert_eq!(
        produce_result(&c.call(&produce_req("idem", 0, next), 8).await),
        (0, 2)
    );
    // A fenced (older) epoch after a bump is INVALID_PRODUCER_EPOCH.
    let bump = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(0),
            4,
        )
        .await;
    assert_eq!(bump.producer_epoch, 1);
    let newer = batch(&["d"], (pid, 1, 0), Compression::None);
    assert_eq!(
        produce_result(&c.call(&produce_req("idem", 0, newer), 8).await),
        (0, 3)
    );
    let stale = batch(&["e"], (pid, 0, 3), Compression::None);
    assert_eq!(
        produce_result(&c.call(&produce_req("idem", 0, stale), 8).await).0,
        47
    );
    let f = c.call(&fetch_req("idem", 0, 0), 11).await;
    assert_eq!(f.responses[0].partitions[0].high_watermark, 4);
    let values: Vec<String> = fetched(&f).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["a", "b", "c", "d"]);
    b.cancel.cancel();
}

#[tokio::test]
async fn bad_batches_get_errors_and_the_connection_survives() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "crc", 1).await;
    let mut bad = batch(&["hello"], (-1, -1, -1), Compression::None).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    assert_eq!(
        produce_result(&c.call(&produce_req("crc", 0, Bytes::from(bad)), 8).await).0,
        2
    );
    let r = c
        .call(
            &produce_req("nope", 0, batch(&["x"], (-1, -1, -1), Compression::None)),
            8,
        )
        .await;
    assert_eq!(produce_result(&r).0, 3);
    let ok = c
        .call(
            &produce_req("crc", 0, batch(&["fine"], (-1, -1, -1), Compression::Gzip)),
            8,
        )
        .await;
    assert_eq!(produce_result(&ok), (0, 0));
    // A frame larger than the limit closes the connection before anything is allocated.
    c.send_raw(&[0x7f, 0xff, 0xff, 0xff, 0, 0]).await;
    assert!(c.read_frame().await.is_none());
    // A Metadata v0 request claiming 2^31-1 topics in 4 bytes: refused (the connection
    // closes) without the decoder reserving memory for them; the broker keeps serving.
    let mut c = Client::connect(b.addr).await;
    let body: &[u8] = &[
        0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, b'x',
    ];
    let mut frame = BytesMut::new();
    frame.put_i32(body.len() as i32);
    frame.extend_from_slice(body);
    c.send_raw(&frame).await;
    assert!(c.read_frame().await.is_none());
    let mut c = Client::connect(b.addr).await;
    assert_eq!(
        c.call(&MetadataRequest::default(), 1).await.brokers.len(),
        1
    );
    b.cancel.cancel();
}

#[tokio::test]
async fn fetch_returns_whole_batches_and_long_polls_until_data_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "poll", 1).await;
    let r = c
        .call(
            &produce_req(
                "poll",
                0,
                batch(&["0", "1", "2", "3"], (-1, -1, -1), Compression::Snappy),
            ),
            8,
        )
        .await;
    assert_eq!(produce_result(&r), (0, 0));
    // Offset 2 is inside the batch: the whole batch comes back, with its real base offset.
    let f = c.call(&fetch_req("poll", 2, 0), 11).await;
    assert_eq!(
        fetched(&f),
        [
            (0, "0".into()),
            (1, "1".into()),
            (2, "2".into()),
            (3, "3".into())
        ]
    );
    // Past the end: OFFSET_OUT_OF_RANGE.
    let f = c.call(&fetch_req("poll", 9, 0), 11).await;
    assert_eq!(f.responses[0].partitions[0].error_code, 1);
    // A long poll at the end is answered by the next produce.
    let mut waiter = Client::connect(b.addr).await;
    let poll = tokio::spawn(async move { waiter.call(&fetch_req("poll", 4, 30_000), 11).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = c
        .call(
            &produce_req("poll", 0, batch(&["4"], (-1, -1, -1), Compression::Zstd)),
            8,
        )
        .await;
    assert_eq!(produce_result(&r), (0, 4));
    let f = poll.await.unwrap();
    assert_eq!(fetched(&f), [(4, "4".into())]);
    b.cancel.cancel();
}

#[tokio::test]
async fn the_log_survives_a_backend_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let be = backend(dir.path());
        let b = start(be.clone()).await;
        let mut c = Client::connect(b.addr).await;
        create(&mut c, "durable", 2).await;
        for i in 0..3 {
            let r = c
                .call(
                    &produce_req(
                        "durable",
                        1,
                        batch(&[&format!("v{i}")], (-1, -1, -1), Compression::None),
                    ),
                    8,
                )
                .await;
            assert_eq!(produce_result(&r), (0, i));
        }
        b.cancel.cancel();
        be.shutdown().await;
    }
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    let md = c
        .call(&MetadataRequest::default().with_topics(None), 9)
        .await;
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("durable"))
        .unwrap();
    assert_eq!(t.partitions.len(), 2);
    let r = c
        .call(
            &produce_req(
                "durable",
                1,
                batch(&["v3"], (-1, -1, -1), Compression::None),
            ),
            8,
        )
        .await;
    assert_eq!(produce_result(&r), (0, 3));
    let mut f = fetch_req("durable", 0, 0);
    f.topics[0].partitions[0].partition = 1;
    let got = c.call(&f, 11).await;
    let values: Vec<String> = fetched(&got).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["v0", "v1", "v2", "v3"]);
    b.cancel.cancel();
}

#[tokio::test]
async fn retention_by_bytes_drops_the_oldest_batches() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    let one = batch(&["0123456789"], (-1, -1, -1), Compression::None);
    let req = CreateTopicsRequest::default().with_topics(vec![
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("small")))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(vec![
                kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("retention.bytes"))
                    .with_value(Some(StrBytes::from_string((one.len() * 2).to_string()))),
                // The records' timestamps are from 2023: keep them regardless of age.
                kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("-1"))),
            ]),
    ]);
    assert_eq!(c.call(&req, 5).await.topics[0].error_code, 0);
    for i in 0..5 {
        let r = c
            .call(
                &produce_req(
                    "small",
                    0,
                    batch(&["0123456789"], (-1, -1, -1), Compression::None),
                ),
                8,
            )
            .await;
        assert_eq!(produce_result(&r), (0, i));
    }
    b.server.broker().enforce_retention().await.unwrap();
    let f = c.call(&fetch_req("small", 0, 0), 11).await;
    let p = &f.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.log_start_offset, p.high_watermark),
        (1, 3, 5)
    );
    let f = c.call(&fetch_req("small", 3, 0), 11).await;
    assert_eq!(
        fetched(&f).iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        [3, 4]
    );
    b.cancel.cancel();
}

#[tokio::test]
async fn incremental_fetch_sessions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "sess", 1).await;
    // A full fetch asking for a new session (epoch 0) gets session id 0: no session.
    let f = c
        .call(&fetch_req("sess", 0, 0).with_session_epoch(0), 11)
        .await;
    assert_eq!((f.error_code, f.session_id), (0, 0));
    // An incremental fetch naming a session the broker never created.
    let f = c
        .call(
            &fetch_req("sess", 0, 0)
                .with_session_id(77)
                .with_session_epoch(1),
            11,
        )
        .await;
    assert_eq!(f.error_code, 70); // FETCH_SESSION_ID_NOT_FOUND
    b.cancel.cancel();
}

fn txn_batch(values: &[&str], producer: (i64, i16, i32)) -> Bytes {
    let mut b = batch(values, producer, Compression::None).to_vec();
    // Set the transactional attribute bit and recompute the CRC.
    b[22] |= 0x10;
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

#[tokio::test]
async fn transactions_fence_old_epochs_and_hide_aborted_data_from_read_committed() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "tx", 2).await;
    let tid = TransactionalId(StrBytes::from_static_str("t1"));
    let init = |pid: i64, epoch: i16| {
        InitProducerIdRequest::default()
            .with_transactional_id(Some(tid.clone()))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
    };
    let r = c.call(&init(-1, -1), 4).await;
    assert_eq!(r.error_code, 0);
    let (pid, epoch) = (r.producer_id.0, r.producer_epoch);
    let add = |epoch: i16| {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(tid.clone())
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![
                add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("tx")))
                    .with_partitions(vec![0]),
            ])
    };
    let r = c.call(&add(epoch), 3).await;
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let produce = |records| produce_req("tx", 0, records).with_transactional_id(Some(tid.clone()));
    let r = c
        .call(&produce(txn_batch(&["a", "b"], (pid, epoch, 0))), 8)
        .await;
    assert_eq!(produce_result(&r), (0, 0));
    // Partition 1 was not added to the transaction: INVALID_TXN_STATE.
    let stray = produce_req("tx", 1, txn_batch(&["stray"], (pid, epoch, 0)))
        .with_transactional_id(Some(tid.clone()));
    let r = c.call(&stray, 8).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 48);

    // The open transaction holds the last stable offset at its first offset.
    let committed_fetch = |offset| fetch_req("tx", offset, 0).with_isolation_level(1);
    let f = c.call(&committed_fetch(0), 11).await;
    let p = &f.responses[0].partitions[0];
    assert_eq!((p.high_watermark, p.last_stable_offset), (2, 0));
    assert!(fetched(&f).is_empty());

    // A new producer with the same id aborts the transaction and fences the old epoch.
    let r = c.call(&init(-1, -1), 4).await;
    assert_eq!((r.error_code, r.producer_id.0), (0, pid));
    assert!(r.producer_epoch > epoch);
    let r = c
        .call(&produce(txn_batch(&["zombie"], (pid, epoch, 2))), 8)
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 47);
    let end = EndTxnRequest::default()
        .with_transactional_id(tid.clone())
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(true);
    assert_eq!(c.call(&end, 3).await.error_code, 90); // PRODUCER_FENCED

    // The abort marker is at offset 2; read_committed sees the aborted range listed.
    let f = c.call(&committed_fetch(0), 11).await;
    let p = &f.responses[0].partitions[0];
    assert_eq!((p.high_watermark, p.last_stable_offset), (3, 3));
    let aborted = p.aborted_transactions.clone().unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!(
        (aborted[0].producer_id.0, aborted[0].first_offset),
        (pid, 0)
    );
    b.cancel.cancel();
}

#[tokio::test]
async fn offsets_sent_to_a_transaction_are_unstable_until_it_commits() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "src", 1).await;
    let tid = TransactionalId(StrBytes::from_static_str("eos"));
    let group = GroupId(StrBytes::from_static_str("eos-group"));
    let r = c
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(tid.clone()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
            4,
        )
        .await;
    let (pid, epoch) = (r.producer_id, r.producer_epoch);
    let r = c
        .call(
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(tid.clone())
                .with_producer_id(pid)
                .with_producer_epoch(epoch)
                .with_group_id(group.clone()),
            3,
        )
        .await;
    assert_eq!(r.error_code, 0);
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(tid.clone())
        .with_group_id(group.clone())
        .with_producer_id(pid)
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![
            txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("src")))
                .with_partitions(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(42),
                ]),
        ]);
    let r = c.call(&commit, 3).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let fetch = |stable: bool| {
        OffsetFetchRequest::default()
            .with_group_id(group.clone())
            .with_require_stable(stable)
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("src")))
                    .with_partition_indexes(vec![0]),
            ]))
    };
    let offset = |r: &OffsetFetchResponse| {
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.committed_offset)
    };
    assert_eq!(offset(&c.call(&fetch(true), 7).await).0, 88); // UNSTABLE_OFFSET_COMMIT
    assert_eq!(offset(&c.call(&fetch(false), 7).await), (0, -1));
    let end = EndTxnRequest::default()
        .with_transactional_id(tid)
        .with_producer_id(pid)
        .with_producer_epoch(epoch)
        .with_committed(true);
    assert_eq!(c.call(&end, 3).await.error_code, 0);
    assert_eq!(offset(&c.call(&fetch(true), 7).await), (0, 42));
    b.cancel.cancel();
}

#[tokio::test]
async fn leader_epochs_are_zero_and_offset_for_leader_epoch_ends_at_the_high_watermark() {
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    let dir = tempfile::tempdir().unwrap();
    let b = start(backend(dir.path())).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "epochs", 1).await;
    let r = c
        .call(
            &produce_req(
                "epochs",
                0,
                batch(&["a", "b", "c"], (-1, -1, -1), Compression::None),
            ),
            8,
        )
        .await;
    assert_eq!(produce_result(&r), (0, 0));
    let topic = || TopicName(StrBytes::from_static_str("epochs"));
    let m = c
        .call(
            &MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(topic())),
            ])),
            9,
        )
        .await;
    assert_eq!(m.topics[0].partitions[0].leader_epoch, 0);
    // Served batches carry the epoch (the producer sent -1).
    let f = c.call(&fetch_req("epochs", 0, 0), 11).await;
    let data = f.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(i32::from_be_bytes(data[12..16].try_into().unwrap()), 0);
    let ask = |partition: i32, current: i32, epoch: i32| {
        OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                OffsetForLeaderTopic::default()
                    .with_topic(topic())
                    .with_partitions(vec![
                        OffsetForLeaderPartition::default()
                            .with_partition(partition)
                            .with_current_leader_epoch(current)
                            .with_leader_epoch(epoch),
                    ]),
            ])
    };
    let answer = |r: &OffsetForLeaderEpochResponse| {
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.leader_epoch, p.end_offset)
    };
    for v in [2, 3, 4] {
        let r = c.call(&ask(0, 0, 0), v).await;
        assert_eq!(answer(&r), (0, 0, 3), "v{v}");
    }
    // An epoch this broker never had; a client ahead of (behind) the current epoch.
    assert_eq!(answer(&c.call(&ask(0, -1, 4), 4).await), (0, -1, -1));
    assert_eq!(answer(&c.call(&ask(0, 1, 0), 4).await), (75, -1, -1));
    assert_eq!(answer(&c.call(&ask(7, 0, 0), 4).await), (3, -1, -1));
    // Fetch and ListOffsets check the client's current epoch the same way; ListOffsets
    // names the epoch from v4 on (kcat's librdkafka 2.0 asks with v2).
    let mut req = fetch_req("epochs", 0, 0);
    req.topics[0].partitions[0].current_leader_epoch = 2;
    let f = c.call(&req, 11).await;
    assert_eq!(f.responses[0].partitions[0].error_code, 75);
    let latest = |current: i32| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(topic())
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_current_leader_epoch(current)
                            .with_timestamp(-1),
                    ]),
            ])
    };
    let answer = |r: &ListOffsetsResponse| {
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.offset, p.leader_epoch)
    };
    assert_eq!(answer(&c.call(&latest(-1), 2).await), (0, 3, -1));
    assert_eq!(answer(&c.call(&latest(0), 7).await), (0, 3, 0));
    assert_eq!(answer(&c.call(&latest(3), 7).await).0, 75);
    b.cancel.cancel();
}
