import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import ServiceKit

/// Product analytics: `POST /api/analytics/events` (anyone; signed-in users' events carry their id), a person's
/// erasure and export (the person or an admin), and the admins' queries over `from`–`to` (UTC dates, both included).
struct AnalyticsRoutes {
    let queries: AnalyticsQueries
    let settings: AnalyticsSettings

    struct Receipt: ResponseCodable {
        var accepted: Int
        var duplicates: Int
        var rejected: Int
        var errors: [EventProblem]
    }

    struct Erased: ResponseCodable {
        var person: String
        var eventsRemoved: Int
        enum CodingKeys: String, CodingKey {
            case person
            case eventsRemoved = "events_removed"
        }
    }

    struct Export: ResponseCodable {
        var person: String
        var events: [AnalyticsQueries.ExportedEvent]
    }

    struct ActiveUsersAnswer: ResponseCodable {
        struct Day: Codable {
            var day: String
            var dau: Int
            var wau: Int
            var mau: Int
            var stickiness: Decimal?
        }
        var days: [Day]
    }

    struct SessionsAnswer: ResponseCodable {
        var sessions: Int
        var medianSeconds: Double?
        var p90Seconds: Double?
        var bounceRate: Decimal?
        enum CodingKeys: String, CodingKey {
            case sessions
            case medianSeconds = "median_seconds"
            case p90Seconds = "p90_seconds"
            case bounceRate = "bounce_rate"
        }
    }

    struct FunnelAnswer: ResponseCodable {
        var steps: [String]
        var reached: [Int]
        var overall: Decimal?
        var stepConversion: [Decimal?]
        var medianSecondsToConvert: Double?
        enum CodingKeys: String, CodingKey {
            case steps, reached, overall
            case stepConversion = "step_conversion"
            case medianSecondsToConvert = "median_seconds_to_convert"
        }
    }

    struct FeaturesAnswer: ResponseCodable {
        struct Feature: Codable {
            var feature: String
            var users: Int
            var uses: Int
            var usageRate: Decimal?
            var usesPerUser: Decimal
            enum CodingKeys: String, CodingKey {
                case feature, users, uses
                case usageRate = "usage_rate"
                case usesPerUser = "uses_per_user"
            }
        }
        var features: [Feature]
    }

    struct TicketsAnswer: ResponseCodable {
        var openedByDay: [String: Int]
        var byCategory: [String: Int]
        var resolved: Int
        var medianSecondsToResolve: Double?
        enum CodingKeys: String, CodingKey {
            case resolved
            case openedByDay = "opened_by_day"
            case byCategory = "by_category"
            case medianSecondsToResolve = "median_seconds_to_resolve"
        }
    }

    struct RetentionAnswer: ResponseCodable {
        struct Cohort: Codable {
            var start: String
            var size: Int
            var retained: [Int]
        }
        var period: String
        var cohorts: [Cohort]
    }

    struct DailyAnswer: ResponseCodable {
        struct Day: Codable {
            var day: String
            var activePeople: Int
            var events: [Count]
            enum CodingKeys: String, CodingKey {
                case day, events
                case activePeople = "active_people"
            }
        }
        struct Count: Codable {
            var event: String
            var detail: String
            var events: Int
            var people: Int
        }
        var days: [Day]
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/analytics/events") { request, context -> Response in
            guard settings.enabled else { return Response(status: .noContent) }
            let identity = try context.requireIdentity()
            let receipt = try await ingest(request, identity: identity, context: context)
            return try EditedResponse(status: .accepted, response: receipt).response(from: request, context: context)
        }
        router.delete("/api/analytics/persons/{id}") { _, context -> Erased in
            let id = try Self.person(context)
            let removed = try await queries.erase(id, requestedBy: try context.requireIdentity().subject, logger: context.logger)
            return Erased(person: id, eventsRemoved: removed)
        }
        router.get("/api/analytics/persons/{id}/export") { _, context -> Export in
            let id = try Self.person(context)
            return Export(person: id, events: try await queries.export(id, logger: context.logger))
        }
        router.get("/api/analytics/active-users") { request, context -> ActiveUsersAnswer in
            _ = try context.requireAdmin()
            let range = try AnalyticsRange(request.queryValues, filters: Self.filters(request))
            let days = try await queries.activeUsers(from: range.from, through: range.through, filter: range.filter, logger: context.logger)
            return ActiveUsersAnswer(
                days: days.map { .init(day: AnalyticsCalendar.label($0.day), dau: $0.dau, wau: $0.wau, mau: $0.mau, stickiness: $0.stickiness) }
            )
        }
        router.get("/api/analytics/daily") { request, context -> DailyAnswer in
            _ = try context.requireAdmin()
            // The rollups outlive raw events, so their range may span years.
            let range = try AnalyticsRange(request.queryValues, longest: 3_660)
            let rows = try await queries.daily(from: range.from, through: range.through, logger: context.logger)
            return DailyAnswer(
                days: Dictionary(grouping: rows, by: \.day).sorted { $0.key < $1.key }.map { day, rows in
                    DailyAnswer.Day(
                        day: AnalyticsCalendar.label(day),
                        activePeople: rows.first { $0.event == AnalyticsQueries.activeRow }?.people ?? 0,
                        events: rows.filter { $0.event != AnalyticsQueries.activeRow }.map {
                            .init(event: $0.event, detail: $0.detail, events: $0.events, people: $0.people)
                        }
                    )
                }
            )
        }
        router.get("/api/analytics/sessions") { request, context -> SessionsAnswer in
            _ = try context.requireAdmin()
            let range = try AnalyticsRange(request.queryValues, filters: Self.filters(request))
            let summary = try await queries.sessions(from: range.from, to: range.end, filter: range.filter, logger: context.logger)
            return SessionsAnswer(
                sessions: summary.count,
                medianSeconds: summary.medianSeconds,
                p90Seconds: summary.p90Seconds,
                bounceRate: summary.bounceRate
            )
        }
        router.get("/api/analytics/funnel") { request, context -> FunnelAnswer in
            _ = try context.requireAdmin()
            let parameters = request.queryValues
            let range = try AnalyticsRange(parameters, filters: Self.filters(request))
            let named = request.uri.queryParameters.getAll("step").map { String($0) }
            let steps = try AnalyticsRange.steps(named)
            let days = try AnalyticsRange.integer(parameters["window_days"], name: "window_days", default: 14, in: 1...90)
            let result = try await queries.funnel(
                steps: steps,
                from: range.from,
                to: range.end,
                window: Double(days) * AnalyticsCalendar.day,
                filter: range.filter,
                logger: context.logger
            )
            return FunnelAnswer(
                steps: named,
                reached: result.reached,
                overall: result.overall,
                stepConversion: result.stepConversion,
                medianSecondsToConvert: result.medianSecondsToConvert
            )
        }
        router.get("/api/analytics/features") { request, context -> FeaturesAnswer in
            _ = try context.requireAdmin()
            let range = try AnalyticsRange(request.queryValues, filters: Self.filters(request))
            let features = try await queries.featureUsage(from: range.from, to: range.end, filter: range.filter, logger: context.logger)
            return FeaturesAnswer(
                features: features.map {
                    .init(feature: $0.feature, users: $0.users, uses: $0.uses, usageRate: $0.usageRate, usesPerUser: $0.usesPerUser)
                }
            )
        }
        router.get("/api/analytics/support-tickets") { request, context -> TicketsAnswer in
            _ = try context.requireAdmin()
            let range = try AnalyticsRange(request.queryValues, filters: Self.filters(request))
            let summary = try await queries.supportTickets(from: range.from, to: range.end, filter: range.filter, logger: context.logger)
            return TicketsAnswer(
                openedByDay: Dictionary(uniqueKeysWithValues: summary.openedByDay.map { (AnalyticsCalendar.label($0.key), $0.value) }),
                byCategory: summary.byCategory,
                resolved: summary.resolved,
                medianSecondsToResolve: summary.medianSecondsToResolve
            )
        }
        router.get("/api/analytics/retention") { request, context -> RetentionAnswer in
            _ = try context.requireAdmin()
            let parameters = request.queryValues
            let range = try AnalyticsRange(parameters, filters: Self.filters(request))
            guard let period = Retention.Period(rawValue: parameters["period"] ?? "day") else {
                throw APIError.invalidPayload([FieldProblem("period", "must be day or week")])
            }
            let periods = try AnalyticsRange.integer(parameters["periods"], name: "periods", default: period == .day ? 7 : 12, in: 1...52)
            let query = Retention.Query(
                period: period,
                periods: periods,
                from: range.from,
                to: range.end,
                startEvent: parameters["start_event"],
                returnEvent: parameters["return_event"],
                calendar: parameters["calendar"] == "true"
            )
            let cohorts = try await queries.retention(query, filter: range.filter, logger: context.logger)
            return RetentionAnswer(
                period: period.rawValue,
                cohorts: cohorts.map { .init(start: AnalyticsCalendar.label($0.start), size: $0.size, retained: $0.retained) }
            )
        }
    }

    /// Checks the batch, hashes anonymous visitors under their day's salt, stores what passed in one transaction.
    func ingest(_ request: Request, identity: Identity, context: ServiceRequestContext) async throws -> Receipt {
        let body = try await request.body.collect(upTo: 2 * 1024 * 1024)
        let json: JSONValue
        do { json = try JSONDecoder().decode(JSONValue.self, from: body) } catch {
            throw APIError.badRequest("invalid_json", "the body is not valid JSON")
        }
        let events: [JSONValue]
        switch json {
        case .array(let items): events = items
        case .object(let fields):
            guard case .array(let items)? = fields["batch"] else {
                throw APIError.badRequest("invalid_batch", "send {\"batch\": [events]} or an array of events")
            }
            events = items
        default: throw APIError.badRequest("invalid_batch", "send {\"batch\": [events]} or an array of events")
        }
        guard events.count <= EventIntake.maxBatch else {
            throw APIError.badRequest("batch_too_large", "a batch holds at most \(EventIntake.maxBatch) events; this one has \(events.count)")
        }
        let now = Date()
        let days = Set(events.map { AnalyticsCalendar.dayStart($0["timestamp"]?.string.flatMap(EventIntake.date) ?? now) })
        // Merging a visitor into a user needs every kept salt; other batches only their days'.
        let merges = events.contains { $0["event"]?.string == "$identify" }
        let salts = settings.privacy ? try await queries.salts(for: days, allKept: merges, logger: context.logger) : [:]
        let intake = EventIntake.Context(
            userID: identity.isUser ? identity.subject : nil,
            admin: identity.role == .admin,
            backfill: request.uri.queryParameters["backfill"] == "true",
            now: now,
            privacy: settings.privacy,
            anonymous: { id, time in
                // A day without a salt is one the intake refuses anyway (too old); the hash is never stored then.
                salts[AnalyticsCalendar.dayStart(time)].map { EventIntake.hashed(id, salt: $0) } ?? "anon:unsalted"
            },
            anonymousOnAnyDay: { id in salts.values.map { EventIntake.hashed(id, salt: $0) } }
        )
        let (accepted, problems) = EventIntake.check(events, intake)
        try await queries.ensurePartitions(for: accepted.map(\.time), logger: context.logger)
        let country = ["CF-IPCountry", "CloudFront-Viewer-Country", "X-Vercel-IP-Country"].lazy.compactMap {
            request.headers[HTTPField.Name($0)!]
        }.first.flatMap { $0.count == 2 ? $0.uppercased() : nil }
        let inserted = try await queries.store(
            accepted,
            browser: EventIntake.browserFamily(request.headers[.userAgent]),
            country: country,
            logger: context.logger
        )
        return Receipt(accepted: inserted, duplicates: accepted.count - inserted, rejected: problems.count, errors: problems)
    }

    /// Every `filter=key=value` of the query, in order.
    static func filters(_ request: Request) -> [String] {
        request.uri.queryParameters.getAll("filter").map { String($0) }
    }

    /// The person a request may see or erase: their own, or anyone's for an admin.
    static func person(_ context: ServiceRequestContext) throws -> String {
        let identity = try context.requireUser()
        let id = try context.parameters.require("id")
        guard identity.role == .admin || identity.subject == id else {
            throw APIError.forbidden("not_your_data", "only the person themself or an admin may do this")
        }
        return id
    }
}

/// `from` and `to` (UTC dates, both included; by default the last 30 days) and `filter=key=value` (repeatable: only
/// events whose property `key` is the string `value`), checked. No I/O.
struct AnalyticsRange: Equatable {
    var from: Date
    var through: Date
    /// The filters as a JSON object for `properties @>`; `{}` matches every event.
    var filter = "{}"
    /// The instant after the last day.
    var end: Date { through.addingTimeInterval(AnalyticsCalendar.day) }

    init(_ parameters: [String: String], filters: [String] = [], longest: Int = 400, now: Date = Date()) throws {
        var problems: [FieldProblem] = []
        var wanted: [String: String] = [:]
        for filter in filters {
            let pair = filter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].wholeMatch(of: /[A-Za-z0-9_.$-]{1,64}/) != nil, pair[1].count <= 200 else {
                problems.append(FieldProblem("filter", "\(filter.prefix(80)) is not key=value (a property name, then at most 200 characters)"))
                continue
            }
            wanted[pair[0]] = pair[1]
        }
        func day(_ name: String) -> Date? {
            guard let text = parameters[name] else { return nil }
            guard text.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil, let date = AnalyticsCalendar.day(text) else {
                problems.append(FieldProblem(name, "must be a date like 2026-12-01"))
                return nil
            }
            return date
        }
        let through = day("to") ?? AnalyticsCalendar.dayStart(now)
        let from = day("from") ?? through.addingTimeInterval(-29 * AnalyticsCalendar.day)
        if from > through { problems.append(FieldProblem("from", "must not be after to")) }
        if through.timeIntervalSince(from) > Double(longest) * AnalyticsCalendar.day {
            problems.append(FieldProblem("from", "must be at most \(longest) days before to"))
        }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        self.from = from
        self.through = through
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        filter = String(decoding: (try? encoder.encode(wanted)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func integer(_ text: String?, name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.invalidPayload([FieldProblem(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")])
        }
        return value
    }

    /// `step=page_view:page=/signup`, one per step, in order: the event, then `key=value` filters joined by `;`.
    static func steps(_ texts: [String]) throws -> [Funnel.Step] {
        guard (2...10).contains(texts.count) else { throw APIError.invalidPayload([FieldProblem("step", "give 2 to 10 steps, in order")]) }
        return try texts.map { text in
            let parts = text.split(separator: ":", maxSplits: 1)
            guard let event = parts.first.map(String.init), event.wholeMatch(of: /\$?[a-z0-9_.:-]{1,64}/) != nil else {
                throw APIError.invalidPayload([FieldProblem("step", "\(text) does not start with an event name")])
            }
            var properties: [String: String] = [:]
            for filter in parts.dropFirst().first?.split(separator: ";") ?? [] {
                let pair = filter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { throw APIError.invalidPayload([FieldProblem("step", "\(filter) is not key=value")]) }
                properties[String(pair[0])] = String(pair[1])
            }
            return Funnel.Step(event: event, properties: properties)
        }
    }
}

/// insights-usage's analytics variables.
struct AnalyticsSettings: Sendable {
    /// `ANALYTICS_ENABLED=false` answers 204 and stores nothing.
    var enabled = true
    /// `ANALYTICS_PRIVACY_MODE=gdpr_compliant` (the default) or `standard`.
    var privacy = true
    var retentionDays = 395
    /// How often admins' streams hear `user_activity` (`ANALYTICS_ACTIVITY_SECONDS`).
    var activityInterval: Duration = .seconds(10)

    static func load(from environment: EnvironmentReader) throws -> AnalyticsSettings {
        var settings = AnalyticsSettings()
        switch environment.optional("ANALYTICS_ENABLED")?.lowercased() {
        case nil, "true": settings.enabled = true
        case "false": settings.enabled = false
        default: throw ConfigurationError(variable: "ANALYTICS_ENABLED", expected: "must be true or false")
        }
        switch environment.optional("ANALYTICS_PRIVACY_MODE") {
        case nil, "gdpr_compliant": settings.privacy = true
        case "standard": settings.privacy = false
        default: throw ConfigurationError(variable: "ANALYTICS_PRIVACY_MODE", expected: "must be gdpr_compliant or standard")
        }
        settings.retentionDays = try environment.integer("ANALYTICS_RETENTION_DAYS", default: 395, in: 31...3_650)
        settings.activityInterval = .seconds(try environment.integer("ANALYTICS_ACTIVITY_SECONDS", default: 10, in: 1...3_600))
        return settings
    }
}
