//! Models and dataset files for tests, downloaded through the hub client as users get them.

use std::path::PathBuf;

/// The model most tests use.
pub const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The endpoint the hub client uses: `HF_ENDPOINT`, else the public hub.
pub fn endpoint() -> String {
    client().endpoint().to_string()
}

/// A hub client configured from the environment, as `train-cli` configures it.
pub fn client() -> hub::HubClient {
    match hub::HubClient::from_env() {
        Ok(client) => client,
        Err(err) => panic!("the hub settings in the environment are unusable: {err}"),
    }
}

/// The local folder of hub model `repo` (downloaded on first use).
pub fn model_dir(repo: &str) -> PathBuf {
    let client = client();
    hub::resolve_model(&client, repo).unwrap_or_else(|err| unreachable_hub(&client, repo, &err))
}

/// The local path of `file` in hub dataset `repo` (downloaded on first use).
pub fn dataset_file(repo: &str, file: &str) -> PathBuf {
    let client = client();
    let what = format!("dataset {repo} file {file}");
    hub::Repo::dataset(repo)
        .and_then(|r| client.get(&r, file))
        .unwrap_or_else(|err| unreachable_hub(&client, &what, &err))
}

fn unreachable_hub(client: &hub::HubClient, what: &str, err: &hub::Error) -> ! {
    panic!(
        "this test needs {what} from the hub, and fetching it from {} failed: {err}.\n\
         Set HF_ENDPOINT to a reachable hub or mirror (offline, serve a copy of the hub's URL \
         layout on loopback, as the README says).",
        client.endpoint()
    )
}
