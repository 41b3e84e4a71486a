fn main() -> std::process::ExitCode {
    teledesk::cli::main()
}
