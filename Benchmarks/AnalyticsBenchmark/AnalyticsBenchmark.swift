import AsyncHTTPClient
import Foundation
import InsightsUsage
import NIOCore
import ServiceKit
import TestSupport

/// `make bench-analytics`: EVENTS product events over PERSONS people and 90 days, sent by CLIENTS concurrent clients in
/// batches of 100 to a real insights-usage process, then its DAU/WAU/MAU series, sessions, a 4-step funnel and a
/// 12-week retention table over all of them. Prints events/s, each question's time (best of 3) and the service's
/// peak resident memory.
@main
struct AnalyticsBenchmark {
    static func main() async throws {
        let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let total = sizes.count > 0 ? sizes[0] : 1_000_000
        let persons = sizes.count > 1 ? sizes[1] : 50_000
        let clients = sizes.count > 2 ? sizes[2] : 100
        let batchSize = 100
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

        try await TestSupport.withPostgres { postgres in
            try await InsightsUsageService.descriptor.migrate(on: postgres, logger: TestSupport.logger)
        }
        let port = TestSupport.freePort()
        let service = try await ServiceProcess(
            product: "insights-usage",
            port: port,
            environment: [
                "DATABASE_URL": ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "",
                "INTERNAL_SECRET": TestSupport.internalSecret,
                "INSIGHTS_USAGE_PORT": String(port),
                "LOG_LEVEL": "error",
                "ANALYTICS_ACTIVITY_SECONDS": "3600",
            ],
            binaries: binaries
        )
        let today = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
        let first = today.addingTimeInterval(-90 * 86_400)
        print("analytics: \(total) events of \(persons) people over 90 days, \(clients) clients sending batches of \(batchSize)")
        let bodies = Self.batches(total: total, persons: persons, from: first, size: batchSize)
        let tokens = await IdentityTokens(secret: TestSupport.internalSecret)
        let admin = Identity(subject: "bench-admin", role: .admin, scheme: "user")

        var pool = HTTPClient.Configuration.internalCalls
        pool.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients + 4)
        try await TestSupport.withHTTPClient(configuration: pool) { @Sendable http in
            let started = ContinuousClock.now
            let stored = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var accepted = 0
                        for index in stride(from: client, to: bodies.count, by: clients) {
                            var request = HTTPClientRequest(url: service.baseURL + "/api/analytics/events?backfill=true")
                            request.method = .POST
                            request.headers.add(name: "Content-Type", value: "application/json")
                            request.headers.add(name: IdentityTokens.headerName, value: try await tokens.mint(admin, issuer: "gateway"))
                            request.body = .bytes(bodies[index])
                            let response = try await http.execute(request, timeout: .seconds(60))
                            let body = try await response.body.collect(upTo: 1 << 20)
                            guard response.status == .accepted else {
                                throw BenchmarkFailure(reason: "a batch was answered \(response.status): \(String(buffer: body))")
                            }
                            accepted += Self.accepted(body)
                        }
                        return accepted
                    }
                }
                var stored = 0
                for try await accepted in group { stored += accepted }
                return stored
            }
            let seconds = Self.seconds(ContinuousClock.now - started)
            print(String(format: "ingest:   %d events stored in %.1f s: %.0f events/s", stored, seconds, Double(stored) / seconds))
            guard stored == total else { throw BenchmarkFailure(reason: "\(total - stored) events were not stored") }

            let range = "from=\(first.utcDayLabel)&to=\(today.addingTimeInterval(-86_400).utcDayLabel)"
            let questions = [
                ("DAU/WAU/MAU, 90 days", "/api/analytics/active-users?\(range)"),
                ("sessions", "/api/analytics/sessions?\(range)"),
                (
                    "4-step funnel",
                    "/api/analytics/funnel?\(range)&step=page_view:page=/pricing&step=page_view:page=/signup&step=conversion&step=feature_used"
                ),
                ("12-week retention", "/api/analytics/retention?\(range)&period=week&periods=12"),
            ]
            for (name, path) in questions {
                var best = Double.infinity
                for _ in 0..<3 {
                    var request = HTTPClientRequest(url: service.baseURL + path)
                    request.headers.add(name: IdentityTokens.headerName, value: try await tokens.mint(admin, issuer: "gateway"))
                    let asked = ContinuousClock.now
                    let response = try await http.execute(request, timeout: .seconds(120))
                    let body = try await response.body.collect(upTo: 16 << 20)
                    guard response.status == .ok else {
                        throw BenchmarkFailure(reason: "\(name) was answered \(response.status): \(String(buffer: body))")
                    }
                    best = min(best, Self.seconds(ContinuousClock.now - asked))
                }
                print(String(format: "question: %@ in %.0f ms", name, best * 1000))
            }
        }
        print("memory:   insights-usage peak resident \(service.memoryKilobytes("VmHWM") / 1024) MB")
        try await service.stop()
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func accepted(_ body: ByteBuffer) -> Int {
        guard let receipt = try? JSONDecoder().decode([String: JSONValue].self, from: Data(buffer: body)),
            case .number(let accepted)? = receipt["accepted"]
        else { return 0 }
        return NSDecimalNumber(decimal: accepted).intValue
    }

    /// The events as request bodies: each person visits on a few of the 90 days, a visit being a few events minutes
    /// apart (page views, feature use, a signup funnel's steps, a session end).
    static func batches(total: Int, persons: Int, from: Date, size: Int) -> [ByteBuffer] {
        var random = SeededRandom(seed: 16)
        let pages = ["/", "/pricing", "/signup", "/dashboard"]
        let features = ["export", "insights", "alerts"]
        var clocks = (0..<persons).map { _ in from.addingTimeInterval(Double(random.next(80 * 86_400))) }
        var bodies: [ByteBuffer] = []
        var batch: [String] = []
        let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for index in 0..<total {
            let person = random.next(persons)
            let time = clocks[person]
            // Minutes apart within a visit; a day or more until the next.
            clocks[person] = time.addingTimeInterval(random.next(5) == 0 ? Double(86_400 + random.next(6 * 86_400)) : Double(20 + random.next(600)))
            if clocks[person].timeIntervalSince(from) > 89 * 86_400 { clocks[person] = from.addingTimeInterval(Double(random.next(86_400))) }
            let event: String
            switch random.next(10) {
            case 0...4: event = #""event":"page_view","properties":{"page":"\#(pages[random.next(pages.count)])"}"#
            case 5...6: event = #""event":"feature_used","properties":{"feature":"\#(features[random.next(features.count)])"}"#
            case 7: event = #""event":"conversion","properties":{"step":"trial"}"#
            case 8: event = #""event":"session_end""#
            default: event = #""event":"session_start""#
            }
            batch.append(
                #"{\#(event),"distinct_id":"bench-person-\#(person)","uuid":"\#(UUID().uuidString)","timestamp":"\#(time.formatted(formatter))"}"#
            )
            if batch.count == size || index == total - 1 {
                bodies.append(ByteBuffer(string: #"{"batch":["# + batch.joined(separator: ",") + "]}"))
                batch.removeAll(keepingCapacity: true)
            }
        }
        return bodies
    }
}
