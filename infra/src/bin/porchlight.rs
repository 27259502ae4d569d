//! `porchlight`, the operator CLI; everything it does lives in `porchlight_infra::cli`.

fn main() -> std::process::ExitCode {
    porchlight_infra::cli::main()
}
