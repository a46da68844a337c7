import RevioData
import ServiceKit

@main
enum RevioDataMain {
    static func main() async {
        await ServiceCommand<RevioDataService>.main()
    }
}
