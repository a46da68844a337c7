import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// DigitalOcean's API v2 for the calls a monitor makes: the account, droplets paged by `page`/`per_page` with absolute
/// `links.pages.next` on DigitalOcean's own host, the droplet monitoring series (Prometheus-style matrices, cumulative
/// CPU counters per mode every 120 s), and the balance. Every answer carries `ratelimit-*` headers; each token is its
/// own account.
public final class DigitalOceanFake: Sendable {
    public struct Droplet: Sendable, Equatable {
        public var id: Int64
        public var name: String
        public var status: String
        public var vcpus: Int
    }

    public struct Account: Sendable {
        public var droplets: [Droplet]
        public var monthToDateUsage: String
        public var accountBalance: String

        public static func generate(droplets: Int, seed: UInt64) -> Account {
            let statuses = ["active", "active", "active", "off", "new"]
            return Account(
                droplets: (0..<droplets).map { index in
                    Droplet(
                        id: Int64(300_000_000 + Int(seed) * 1_000 + index),
                        name: "web-\(index + 1)",
                        status: statuses[index % statuses.count],
                        vcpus: 1 + index % 4
                    )
                },
                monthToDateUsage: "\(40 + seed % 50).\(10 + seed % 89)",
                accountBalance: "\(seed % 20).55"
            )
        }
    }

    public static let step: Int64 = 120
    public static let hourlyLimit = 5_000

    private struct State {
        var accounts: [String: Account] = [:]
        var used: [String: Int] = [:]
    }
    private let state = Mutex(State())

    init() {}

    public func setAccount(token: String, _ account: Account) { state.withLock { $0.accounts[token] = account } }

    /// The share of CPU time a droplet spends busy in the hour starting at `hour` (Unix seconds ÷ 3600).
    public static func busyShare(droplet: Int64, hour: Int64) -> Decimal { Decimal(5 + Int((droplet &* 31 &+ hour &* 17) % 80)) / 100 }
    /// The share of memory in use in that hour.
    static func memoryShare(droplet: Int64, hour: Int64) -> Decimal { Decimal(20 + Int((droplet &* 7 &+ hour &* 13) % 70)) / 100 }

    /// One series as DigitalOcean would answer it for `[start, end]`: `(labels, [(time, value)])` per result.
    public static func series(
        _ metric: String,
        droplet: Droplet,
        start: Int64,
        end: Int64,
        direction: String? = nil
    ) -> [(labels: [String: String], values: [(Int64, Decimal)])] {
        let times = stride(from: (start + step - 1) / step * step, through: end, by: Int(step)).map { $0 }
        let host = String(droplet.id)
        let cpuSeconds = Decimal(step) * Decimal(droplet.vcpus)
        let memoryTotal = Decimal(droplet.vcpus) * 2_147_483_648
        switch metric {
        case "cpu":
            // Cumulative seconds from an arbitrary base; each step adds its hour's share to the busy modes.
            var counters: [String: Decimal] = [
                "idle": 120_901.18, "user": 278.57, "system": 140.09, "iowait": 14.99, "steal": 7.89, "nice": 66.35, "irq": 0, "softirq": 2.13,
            ]
            var values: [String: [(Int64, Decimal)]] = [:]
            for time in times {
                let busy = busyShare(droplet: droplet.id, hour: time / 3600)
                counters["idle"]! += cpuSeconds * (1 - busy)
                counters["user"]! += cpuSeconds * busy * 7 / 10
                counters["system"]! += cpuSeconds * busy * 3 / 10
                for (mode, value) in counters { values[mode, default: []].append((time, value)) }
            }
            return values.keys.sorted().map { (["host_id": host, "mode": $0], values[$0]!) }
        case "memory_total":
            return [(["host_id": host], times.map { ($0, memoryTotal) })]
        case "memory_available":
            return [(["host_id": host], times.map { ($0, memoryTotal * (1 - memoryShare(droplet: droplet.id, hour: $0 / 3600))) })]
        case "filesystem_size":
            return [(["host_id": host, "device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/"], times.map { ($0, 26_966_240_256) })]
        case "filesystem_free":
            return [
                (
                    ["host_id": host, "device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/"],
                    times.map { ($0, 20_000_000_000 - Decimal($0 % 86_400) * 1_000) }
                )
            ]
        case "bandwidth":
            let factor: Decimal = direction == "inbound" ? 3 : 1
            return [
                (
                    ["host_id": host, "interface": "public", "direction": direction ?? "inbound"],
                    times.map { ($0, factor * Decimal($0 % 1_000) / 1_000) }
                )
            ]
        default:
            return []
        }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/v2/account") { request, _ in
            try self.answer(request) { _ in
                [
                    "account": [
                        "droplet_limit": 25, "floating_ip_limit": 3, "email": "ops@example.com", "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
                        "email_verified": true, "status": "active", "status_message": "",
                    ]
                ]
            }
        }
        router.get("/v2/droplets") { request, _ in
            try self.answer(request) { account in
                let query = request.queryValues
                let perPage = min(max(Int(query["per_page"] ?? "20") ?? 20, 1), 200)
                let page = max(Int(query["page"] ?? "1") ?? 1, 1)
                let pages = max((account.droplets.count + perPage - 1) / perPage, 1)
                let slice = account.droplets.dropFirst((page - 1) * perPage).prefix(perPage)
                var links: [String: Any] = [:]
                if page < pages {
                    links["pages"] = [
                        "next": "https://api.digitalocean.com/v2/droplets?page=\(page + 1)&per_page=\(perPage)",
                        "last": "https://api.digitalocean.com/v2/droplets?page=\(pages)&per_page=\(perPage)",
                    ]
                }
                return [
                    "droplets": slice.map { droplet -> [String: Any] in
                        [
                            "id": droplet.id, "name": droplet.name, "memory": droplet.vcpus * 2048, "vcpus": droplet.vcpus, "disk": 25,
                            "locked": false, "status": droplet.status, "created_at": "2026-01-01T00:00:00Z", "features": ["monitoring"],
                            "region": ["slug": "fra1", "name": "Frankfurt 1"], "tags": [Any](),
                        ]
                    },
                    "links": links, "meta": ["total": account.droplets.count],
                ]
            }
        }
        router.get("/v2/monitoring/metrics/droplet/{metric}") { request, context in
            try self.answer(request) { account in
                let query = request.queryValues
                guard let host = query["host_id"], let droplet = account.droplets.first(where: { String($0.id) == host }),
                    let start = query["start"].flatMap({ Int64($0) }), let end = query["end"].flatMap({ Int64($0) }), start <= end
                else {
                    throw HTTPError(.badRequest, message: #"{"id":"bad_request","message":"host_id, start and end are required"}"#)
                }
                let metric = context.parameters.get("metric") ?? ""
                let results = Self.series(metric, droplet: droplet, start: start, end: end, direction: query["direction"])
                return [
                    "status": "success",
                    "data": [
                        "resultType": "matrix",
                        "result": results.map { result -> [String: Any] in
                            ["metric": result.labels, "values": result.values.map { [$0.0, "\($0.1)"] as [Any] }]
                        },
                    ],
                ]
            }
        }
        router.get("/v2/customers/my/balance") { request, _ in
            try self.answer(request) { account in
                [
                    "month_to_date_balance": account.monthToDateUsage, "account_balance": account.accountBalance,
                    "month_to_date_usage": account.monthToDateUsage, "generated_at": "2026-12-01T00:00:00Z",
                ]
            }
        }
    }

    /// Checks the Bearer token, counts the call against the hour's 5,000, answers with the rate-limit headers.
    private func answer(_ request: Request, _ body: (Account) throws -> [String: Any]) throws -> Response {
        let token = request.bearerToken
        let (account, used) = state.withLock { state -> (Account?, Int) in
            guard let token, let account = state.accounts[token] else { return (nil, 0) }
            state.used[token, default: 0] += 1
            return (account, state.used[token]!)
        }
        let reset = (Int(Date().timeIntervalSince1970) / 3600 + 1) * 3600
        var headers: HTTPFields = [
            .contentType: "application/json",
            HTTPField.Name("ratelimit-limit")!: String(Self.hourlyLimit),
            HTTPField.Name("ratelimit-remaining")!: String(max(Self.hourlyLimit - used, 0)),
            HTTPField.Name("ratelimit-reset")!: String(reset),
        ]
        guard let account else {
            let error = #"{"id":"Unauthorized","message":"Unable to authenticate you."}"#
            return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error)))
        }
        let json: [String: Any]
        do { json = try body(account) } catch let error as HTTPError {
            headers[.contentType] = "application/json"
            return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error.body ?? "{}")))
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))))
    }
}
