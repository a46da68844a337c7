import StripeSync
import ServiceKit

@main
enum StripeSyncMain {
    static func main() async {
        await ServiceCommand<StripeSyncService>.main()
    }
}
