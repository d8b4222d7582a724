/// The bus's counters in the Prometheus text exposition format (version 0.0.4).
///
/// The broker's per-frame counters are plain integers read at scrape time, so the hot
/// path pays nothing for metrics: no atomics, no label lookups per frame. Everything
/// else in the bus process (supervisor restarts, log sync latency) is recorded through
/// swift-metrics and its registry's exposition is appended here.
public enum PrometheusText {
    struct Sample {
        var name: String
        var help: String
        var type: String
        var labels: [(String, String)]
        var value: Double

        init(name: String, help: String, type: String = "counter", labels: [(String, String)] = [], value: Double) {
            self.name = name
            self.help = help
            self.type = type
            self.labels = labels
            self.value = value
        }
    }

    public static func render(stats: BrokerStats, sessions: [SessionSnapshot], durable: [DurableSnapshot], appending metricsText: String = "") -> String {
        var samples: [Sample] = []
        func bus(_ name: String, _ help: String, _ value: UInt64) {
            samples.append(Sample(name: "xunfang_bus_\(name)", help: help, value: Double(value)))
        }
        bus("connections_total", "Connections accepted.", stats.connections)
        bus("frames_in_total", "Frames received.", stats.framesIn)
        bus("frames_out_total", "Frames sent.", stats.framesOut)
        bus("published_total", "Messages published.", stats.published)
        bus("delivered_total", "Deliveries sent to subscribers.", stats.delivered)
        bus("dropped_total", "Deliveries dropped from full plain-subscriber queues (oldest first).", stats.dropped)
        bus("redelivered_total", "Durable deliveries sent again.", stats.redelivered)
        bus("durable_appended_total", "Durable messages written and synced.", stats.durableAppended)
        samples.append(Sample(name: "xunfang_bus_held_bytes", help: "Bytes held for subscribers that are not reading.", type: "gauge",
                              value: Double(stats.heldBytes)))
        samples.append(Sample(name: "xunfang_bus_durable_retained_bytes", help: "Bytes of the durable messages the log keeps.", type: "gauge",
                              value: Double(stats.durableRetainedBytes)))
        bus("durable_discarded_total", "Durable messages dropped by a retention rule.", stats.durableDiscarded)
        bus("durable_refused_by_retention_total", "Durable publishes refused at a discard-new retention limit.", stats.durableRefusedByRetention)
        bus("oversize_refused_total", "Deliveries larger than their receiver's frame limit even compressed; not sent.", stats.oversizeRefused)
        bus("durable_write_failures_total", "Durable log writes or syncs that failed; their publishers were refused.", stats.durableWriteFailures)
        bus("durable_corrupt_ranges_total", "Damaged ranges of the durable log found at start and quarantined.", stats.durableCorruptRanges)
        bus("durable_quarantined_bytes_total", "Bytes of the durable log moved to quarantine at start.", stats.durableQuarantinedBytes)
        bus("requests_total", "Requests received.", stats.requests)
        bus("unavailable_total", "Requests answered UNAVAILABLE (no server).", stats.unavailable)
        bus("deadlines_exceeded_total", "Requests answered DEADLINE_EXCEEDED.", stats.deadlinesExceeded)
        bus("denials_total", "Operations refused by an ACL.", stats.denials)
        bus("auth_failures_total", "Handshakes refused for a wrong credential or unknown plugin.", stats.authFailures)
        bus("dead_peers_total", "Peers dropped for missing pings.", stats.deadPeers)
        for session in sessions {
            let labels = [("plugin", session.plugin), ("instance", session.instance)]
            samples.append(Sample(name: "xunfang_plugin_frames_in_total", help: "Frames received from the plugin.", labels: labels, value: Double(session.framesIn)))
            samples.append(Sample(name: "xunfang_plugin_frames_out_total", help: "Frames sent to the plugin.", labels: labels, value: Double(session.framesOut)))
            samples.append(Sample(name: "xunfang_plugin_bytes_in_total", help: "Bytes received from the plugin.", labels: labels, value: Double(session.bytesIn)))
            samples.append(Sample(name: "xunfang_plugin_bytes_out_total", help: "Bytes sent to the plugin.", labels: labels, value: Double(session.bytesOut)))
            samples.append(Sample(name: "xunfang_plugin_queued_deliveries", help: "Deliveries waiting in the plugin's subscription queues.", type: "gauge", labels: labels, value: Double(session.queuedDeliveries)))
            samples.append(Sample(name: "xunfang_plugin_dropped_total", help: "Deliveries dropped for the plugin.", labels: labels, value: Double(session.dropped)))
        }
        for consumer in durable {
            let labels = [("consumer", consumer.name)]
            samples.append(Sample(name: "xunfang_durable_pending", help: "Durable messages not yet acknowledged by the consumer.", type: "gauge", labels: labels, value: Double(consumer.pending)))
            samples.append(Sample(name: "xunfang_durable_oldest_unacked_seconds", help: "Age of the oldest message the consumer has not acknowledged.",
                                  type: "gauge", labels: labels, value: consumer.oldestUnackedSeconds ?? 0))
            samples.append(Sample(name: "xunfang_durable_in_flight", help: "Durable deliveries awaiting an ack.", type: "gauge", labels: labels, value: Double(consumer.inFlight)))
        }
        var cumulative: UInt64 = 0
        for (index, bound) in BrokerStats.latencyBoundsMs.enumerated() {
            cumulative += stats.latencyBuckets[index]
            samples.append(Sample(name: "xunfang_bus_request_latency_ms_bucket", help: "Request round trips through the bus, milliseconds.",
                                  type: "histogram", labels: [("le", "\(bound)")], value: Double(cumulative)))
        }
        cumulative += stats.latencyBuckets.last ?? 0
        samples.append(Sample(name: "xunfang_bus_request_latency_ms_bucket", help: "", type: "histogram", labels: [("le", "+Inf")], value: Double(cumulative)))
        samples.append(Sample(name: "xunfang_bus_request_latency_ms_count", help: "", type: "histogram", value: Double(cumulative)))
        return format(samples) + metricsText
    }

    static func format(_ samples: [Sample]) -> String {
        var out = ""
        var described: Set<String> = []
        for sample in samples {
            let family = sample.type == "histogram" ? histogramFamily(sample.name) : sample.name
            if described.insert(family).inserted {
                if !sample.help.isEmpty { out += "# HELP \(family) \(sample.help)\n" }
                out += "# TYPE \(family) \(sample.type)\n"
            }
            out += sample.name
            if !sample.labels.isEmpty {
                out += "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " \(sample.value == sample.value.rounded() && abs(sample.value) < 1e15 ? String(Int64(sample.value)) : String(sample.value))\n"
        }
        return out
    }

    private static func histogramFamily(_ name: String) -> String {
        for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
