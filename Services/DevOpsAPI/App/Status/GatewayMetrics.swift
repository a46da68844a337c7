import Foundation

/// Per-service traffic read from the gateway's Prometheus text: requests, errors and latency quantiles. No I/O.
struct ServiceTraffic: Codable, Equatable, Sendable {
    var service: String
    var requests: Int
    /// Requests per second since the previous reading; nil on the first.
    var requestRate: Double?
    /// Share of 5xx answers, 0…1.
    var errorRate: Double
    var p50Milliseconds: Double?
    var p95Milliseconds: Double?
}

enum GatewayMetrics {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// `name{a="x",b="y"} 12.5` lines; comments and anything unreadable are skipped.
    static func parse(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let head = line[..<space]
            guard let brace = head.firstIndex(of: "{") else { return Sample(name: String(head), labels: [:], value: value) }
            var labels: [String: String] = [:]
            for pair in head[head.index(after: brace)..<(head.lastIndex(of: "}") ?? head.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
            }
            return Sample(name: String(head[..<brace]), labels: labels, value: value)
        }
    }

    /// Totals and quantiles per upstream service (the gateway labels each request with the service it went to).
    static func traffic(_ samples: [Sample], previous: [String: Int] = [:], elapsed: TimeInterval? = nil) -> [ServiceTraffic] {
        var requests: [String: Double] = [:]
        var errors: [String: Double] = [:]
        var buckets: [String: [Double: Double]] = [:]
        for sample in samples {
            guard let service = sample.labels["upstream"], service != "gateway" else { continue }
            switch sample.name {
            case "http_requests_total":
                requests[service, default: 0] += sample.value
                if sample.labels["status"]?.hasPrefix("5") == true { errors[service, default: 0] += sample.value }
            case "http_request_duration_seconds_bucket":
                let bound = sample.labels["le"].flatMap { $0 == "+Inf" ? Double.infinity : Double($0) } ?? .infinity
                buckets[service, default: [:]][bound, default: 0] += sample.value
            default:
                continue
            }
        }
        return requests.keys.sorted().map { service in
            let total = requests[service] ?? 0
            let rate = elapsed.flatMap { elapsed in previous[service].map { (total - Double($0)) / max(elapsed, 0.001) } }
            return ServiceTraffic(
                service: service,
                requests: Int(total),
                requestRate: rate,
                errorRate: total > 0 ? (errors[service] ?? 0) / total : 0,
                p50Milliseconds: quantile(0.5, buckets[service] ?? [:]).map { $0 * 1000 },
                p95Milliseconds: quantile(0.95, buckets[service] ?? [:]).map { $0 * 1000 }
            )
        }
    }

    /// The upper bound of the first cumulative bucket that holds the quantile (as Prometheus' histogram_quantile
    /// would, without interpolation).
    static func quantile(_ q: Double, _ cumulative: [Double: Double]) -> Double? {
        let bounds = cumulative.keys.sorted()
        guard let total = bounds.last.flatMap({ cumulative[$0] }), total > 0 else { return nil }
        let bound = bounds.first { (cumulative[$0] ?? 0) >= q * total }
        return bound.flatMap { $0.isFinite ? $0 : bounds.dropLast().last }
    }
}
