import Foundation
import NIOHTTP1
import PlanKit
import ServiceKit

/// DigitalOcean's API v2: the droplets (paged by `links.pages.next`), each one's monitoring series over the window, and
/// the month-to-date balance. Seven series per droplet at 250 requests a minute: `max_droplets` (25) bounds a run.
struct DigitalOceanConnector: MonitorConnector {
    let token: String
    let maxDroplets: Int

    init(_ target: IntegrationTarget) throws(FieldProblems) {
        token = target.credential("token")
        maxDroplets = try target.integer("max_droplets", default: 25, in: 1...200)
    }

    var headers: HTTPHeaders { ["Authorization": "Bearer \(token)"] }

    func check(using client: ProviderClient) async throws {
        _ = try await client.json(ProviderRequest(url: client.url("/v2/account"), headers: headers), as: JSONValue.self)
    }

    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected {
        var droplets: [DigitalOceanDroplet] = []
        var next: String? = client.url("/v2/droplets?page=1&per_page=200")
        while let url = next, droplets.count < 10_000 {
            let page = try await client.json(ProviderRequest(url: url, headers: headers), as: DigitalOceanDropletPage.self)
            droplets += page.droplets
            // The link is absolute on DigitalOcean's host; its path and query are followed under our base URL.
            next = client.follow(page.links?.pages?.next)
        }
        let range = "start=\(Int(window.start.timeIntervalSince1970))&end=\(Int(window.end.timeIntervalSince1970))"
        var series: [String: DigitalOceanSeries] = [:]
        for droplet in DigitalOceanMetrics.watched(droplets, limit: maxDroplets) {
            var readings = DigitalOceanSeries()
            func read(_ metric: String, _ extra: String = "") async throws -> [DigitalOceanResult] {
                let url = client.url("/v2/monitoring/metrics/droplet/\(metric)?host_id=\(droplet.id)&\(range)\(extra)")
                return try await client.json(ProviderRequest(url: url, headers: headers), as: DigitalOceanMetricResponse.self).data.result
            }
            readings.cpu = try await read("cpu")
            readings.memoryTotal = try await read("memory_total")
            readings.memoryAvailable = try await read("memory_available")
            readings.filesystemFree = try await read("filesystem_free")
            readings.filesystemSize = try await read("filesystem_size")
            readings.inbound = try await read("bandwidth", "&interface=public&direction=inbound")
            readings.outbound = try await read("bandwidth", "&interface=public&direction=outbound")
            series[String(droplet.id)] = readings
        }
        let balance = try await client.json(
            ProviderRequest(url: client.url("/v2/customers/my/balance"), headers: headers),
            as: DigitalOceanBalance.self
        )
        return DigitalOceanMetrics.collected(droplets: droplets, series: series, balance: balance, window: window, limit: maxDroplets)
    }
}

struct DigitalOceanDroplet: Decodable, Equatable, Sendable {
    var id: Int64
    var name: String
    /// `new`, `active`, `off` or `archive`.
    var status: String
}

struct DigitalOceanDropletPage: Decodable {
    struct Links: Decodable {
        struct Pages: Decodable { var next: String? }
        var pages: Pages?
    }

    var droplets: [DigitalOceanDroplet]
    var links: Links?
}

/// `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{…labels},"values":[[unix, "value"],…]}]}}`.
struct DigitalOceanMetricResponse: Decodable {
    struct Data: Decodable { var result: [DigitalOceanResult] }
    var data: Data
}

struct DigitalOceanResult: Decodable, Equatable, Sendable {
    struct Point: Decodable, Equatable, Sendable {
        var time: Date
        var value: Decimal

        init(time: Date, value: Decimal) {
            self.time = time
            self.value = value
        }

        /// `[1634052360, "0.0166"]`: the time may be fractional, the value is a string.
        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            time = Date(timeIntervalSince1970: try container.decode(Double.self))
            let text = try container.decode(String.self)
            guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a number: \(text)")
            }
            self.value = value
        }
    }

    var metric: [String: String]
    var values: [Point]
}

/// `GET /v2/customers/my/balance`: amounts are dollar strings (`"23.44"`).
struct DigitalOceanBalance: Decodable, Equatable, Sendable {
    var monthToDateBalance: String
    var accountBalance: String
    var monthToDateUsage: String

    enum CodingKeys: String, CodingKey {
        case monthToDateBalance = "month_to_date_balance"
        case accountBalance = "account_balance"
        case monthToDateUsage = "month_to_date_usage"
    }
}

/// The seven series read for one droplet.
struct DigitalOceanSeries: Sendable, Equatable {
    var cpu: [DigitalOceanResult] = []
    var memoryTotal: [DigitalOceanResult] = []
    var memoryAvailable: [DigitalOceanResult] = []
    var filesystemFree: [DigitalOceanResult] = []
    var filesystemSize: [DigitalOceanResult] = []
    var inbound: [DigitalOceanResult] = []
    var outbound: [DigitalOceanResult] = []
}

/// DigitalOcean's numbers from its series. No I/O.
///
/// - CPU % = 100 × (1 − Δidle ÷ Δ(all modes)): the series are cumulative seconds per mode, so each step between two
///   readings adds its increase to the hour it ends in; a step where a counter went down (a reboot) is left out;
/// - memory % = 100 × (1 − available ÷ total) and disk % = 100 × (1 − Σfree ÷ Σsize over the filesystems), per
///   reading, averaged per hour; the headline is the latest reading;
/// - bandwidth is DigitalOcean's own rate in Mbps (public interface), averaged per hour, latest as headline;
/// - month-to-date usage and balance in integer cents (USD, DigitalOcean's billing currency).
enum DigitalOceanMetrics {
    /// Active droplets first, then the rest, by id, up to `limit`.
    static func watched(_ droplets: [DigitalOceanDroplet], limit: Int) -> [DigitalOceanDroplet] {
        Array(droplets.sorted { ($0.status == "active" ? 0 : 1, $0.id) < ($1.status == "active" ? 0 : 1, $1.id) }.prefix(limit))
    }

    static func collected(
        droplets: [DigitalOceanDroplet],
        series: [String: DigitalOceanSeries],
        balance: DigitalOceanBalance,
        window: CollectionWindow,
        limit: Int
    ) -> Collected {
        var samples: [MetricSample] = []
        var rows: [JSONValue] = []
        for droplet in watched(droplets, limit: limit) {
            let id = String(droplet.id)
            let readings = series[id] ?? DigitalOceanSeries()
            let dimensions = ["droplet_id": id]
            func gauge(_ metric: String, _ hourly: [Date: Decimal]) {
                for (hour, value) in hourly {
                    samples.append(
                        MetricSample(metric: metric, dimensions: dimensions, bucketStart: hour, value: value.rounded(places: 2), kind: .gauge)
                    )
                }
            }
            let cpu = cpuPercent(readings.cpu, window: window)
            gauge("cpu_percent", cpu.hourly)
            let memory = percentUsed(available: readings.memoryAvailable, total: readings.memoryTotal, window: window)
            gauge("memory_percent", hourlyMean(memory))
            let disk = percentUsed(available: readings.filesystemFree, total: readings.filesystemSize, window: window)
            gauge("disk_percent", hourlyMean(disk))
            let inbound = points(readings.inbound, window: window)
            let outbound = points(readings.outbound, window: window)
            gauge("bandwidth_in_mbps", hourlyMean(inbound))
            gauge("bandwidth_out_mbps", hourlyMean(outbound))
            rows.append([
                "droplet_id": .string(id), "name": .string(droplet.name), "status": .string(droplet.status),
                "cpu_percent": JSONValue(cpu.overall.map { $0.rounded(places: 2) }),
                "memory_percent": JSONValue(memory.last.map { $0.value.rounded(places: 2) }),
                "disk_percent": JSONValue(disk.last.map { $0.value.rounded(places: 2) }),
                "bandwidth_in_mbps": JSONValue(inbound.last.map { $0.value.rounded(places: 3) }),
                "bandwidth_out_mbps": JSONValue(outbound.last.map { $0.value.rounded(places: 3) }),
            ])
        }
        var byStatus: [String: JSONValue] = [:]
        for (status, members) in Dictionary(grouping: droplets, by: \.status) { byStatus[status] = .number(Decimal(members.count)) }
        let usage = cents(balance.monthToDateUsage)
        let accountBalance = cents(balance.accountBalance)
        if let usage {
            samples.append(MetricSample(metric: "month_to_date_usage_cents", bucketStart: window.end.hourStart, value: Decimal(usage), kind: .gauge))
        }
        return Collected(
            samples: samples,
            summary: [
                "droplets": .number(Decimal(droplets.count)), "droplets_by_status": .object(byStatus), "watched": .array(rows),
                "month_to_date_usage_cents": JSONValue(usage.map { Decimal($0) }),
                "account_balance_cents": JSONValue(accountBalance.map { Decimal($0) }),
                "currency": "usd",
            ]
        )
    }

    /// Busy share of CPU time from the cumulative per-mode counters: overall over the window and per hour.
    static func cpuPercent(_ modes: [DigitalOceanResult], window: CollectionWindow) -> (overall: Decimal?, hourly: [Date: Decimal]) {
        var idle: [Date: Decimal] = [:]
        var all: [Date: Decimal] = [:]
        for series in modes {
            let isIdle = series.metric["mode"] == "idle"
            let readings = series.values.sorted { $0.time < $1.time }
            for (previous, current) in zip(readings, readings.dropFirst()) where window.contains(current.time) && previous.time >= window.start {
                let step = current.value - previous.value
                guard step >= 0 else { continue }
                let hour = current.time.hourStart
                all[hour, default: 0] += step
                if isIdle { idle[hour, default: 0] += step }
            }
        }
        func busy(_ idle: Decimal, _ all: Decimal) -> Decimal? { all > 0 ? 100 * (1 - idle / all) : nil }
        var hourly: [Date: Decimal] = [:]
        for (hour, total) in all { hourly[hour] = busy(idle[hour] ?? 0, total) }
        return (busy(idle.values.reduce(0, +), all.values.reduce(0, +)), hourly)
    }

    /// `100 × (1 − Σavailable ÷ Σtotal)` at each reading time both series have, oldest first.
    static func percentUsed(
        available: [DigitalOceanResult],
        total: [DigitalOceanResult],
        window: CollectionWindow
    ) -> [(time: Date, value: Decimal)] {
        func sums(_ results: [DigitalOceanResult]) -> [Date: Decimal] {
            var sums: [Date: Decimal] = [:]
            for result in results { for point in result.values where window.contains(point.time) { sums[point.time, default: 0] += point.value } }
            return sums
        }
        let free = sums(available)
        return sums(total).compactMap { time, size in
            guard size > 0, let free = free[time] else { return nil }
            return (time, 100 * (1 - free / size))
        }.sorted { $0.time < $1.time }
    }

    /// A rate series' readings inside the window, summed across its results (one per interface), oldest first.
    static func points(_ results: [DigitalOceanResult], window: CollectionWindow) -> [(time: Date, value: Decimal)] {
        var sums: [Date: Decimal] = [:]
        for result in results { for point in result.values where window.contains(point.time) { sums[point.time, default: 0] += point.value } }
        return sums.map { ($0.key, $0.value) }.sorted { $0.time < $1.time }
    }

    static func hourlyMean(_ readings: [(time: Date, value: Decimal)]) -> [Date: Decimal] {
        Dictionary(grouping: readings, by: { $0.time.hourStart }).mapValues { group in
            group.reduce(Decimal(0)) { $0 + $1.value } / Decimal(group.count)
        }
    }

    /// `"23.44"` → 2344; nil when it is not an amount.
    static func cents(_ dollars: String) -> Int64? {
        guard let amount = Decimal(string: dollars, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        return MonthlyRecurring.rounded(amount * 100)
    }
}
