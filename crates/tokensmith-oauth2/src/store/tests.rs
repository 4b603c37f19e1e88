use super::file::{LOCK_WAIT, write_atomically};
use super::*;

fn tokens(refresh: &str) -> StoredTokens {
    let access = AccessToken::builder("canary-access-4d")
        .expires_in(Duration::from_secs(3600))
        .scopes(["a"])
        .build()
        .unwrap();
    StoredTokens::new(RefreshToken::new(refresh), Some(&access))
}

#[tokio::test]
async fn file_store_round_trips_atomically_with_owner_only_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    assert!(
        store.load().await.unwrap().is_none(),
        "no file yet is not an error"
    );
    store.save(&tokens("canary-refresh-1")).await.unwrap();
    store.save(&tokens("canary-refresh-2")).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.refresh_token.expose_secret(), "canary-refresh-2");
    let access = loaded.live_access_token(Duration::from_secs(60)).unwrap();
    assert_eq!(access.scopes(), ["a"]);
    assert!(access.expires_in().unwrap() > Duration::from_secs(3500));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["tokens.json", "tokens.json.lock"],
        "no temporary file left behind"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = format!("{loaded:?} {store:?}");
    assert!(!text.contains("canary-"), "{text}");
}

#[tokio::test]
async fn registered_clients_are_kept_by_issuer_beside_the_tokens_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    assert!(
        store
            .load_client("https://a.example")
            .await
            .unwrap()
            .is_none()
    );
    for (issuer, id) in [("https://a.example", "one"), ("https://b.example", "two")] {
        let mut client = StoredClient::new(issuer, id);
        client.client_secret = Some(crate::ClientSecret::from("canary-client-secret"));
        store.save_client(&client).await.unwrap();
    }
    // A later registration with the same server replaces the earlier one only.
    store
        .save_client(&StoredClient::new("https://a.example", "three"))
        .await
        .unwrap();
    let a = store
        .load_client("https://a.example")
        .await
        .unwrap()
        .unwrap();
    let b = store
        .load_client("https://b.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.client_id.as_str(), b.client_id.as_str()),
        ("three", "two")
    );
    assert!(a.client_secret.is_none());
    assert_eq!(
        b.client_secret.unwrap().expose_secret(),
        "canary-client-secret"
    );
    let clients = dir.path().join("tokens.json.clients");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&clients).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(&clients, "not json").unwrap();
    let corrupt = store.load_client("https://a.example").await.unwrap_err();
    assert!(corrupt.to_string().contains("corrupt"), "{corrupt}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_lock_file_is_never_followed_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let path = dir.path().join("tokens.json");
    std::os::unix::fs::symlink(&elsewhere, dir.path().join("tokens.json.lock")).unwrap();
    let store = FileStore::new(&path);
    let err = store.save(&tokens("canary-refresh-sym")).await.unwrap_err();
    assert!(err.to_string().contains("tokens.json.lock"), "{err}");
    assert!(!elsewhere.exists(), "no file was created through the link");
    assert!(!path.exists());
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_owned_by_another_user_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = FileStore::new(&path);
    store.save(&tokens("canary-refresh-owner")).await.unwrap();
    // Only a privileged process can give a file away (CI runs as root).
    if std::os::unix::fs::chown(&path, Some(65534), None).is_err() {
        return;
    }
    let err = store.load().await.unwrap_err();
    assert!(err.to_string().contains("belongs to another user"), "{err}");
    assert!(!format!("{err:?}").contains("canary-"));
}

#[tokio::test]
async fn waiting_for_the_lock_is_bounded_and_clear_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = FileStore::new(&path);
    store.save(&tokens("canary-refresh-lock")).await.unwrap();
    // Another writer holds the lock: `clear` waits for it, and gives up after the bound
    // with an error that names the lock file.
    let held = store.lock().unwrap();
    let started = std::time::Instant::now();
    let err = store.clear().await.unwrap_err();
    assert!(started.elapsed() >= LOCK_WAIT, "{:?}", started.elapsed());
    assert!(err.to_string().contains("tokens.json.lock"), "{err}");
    assert!(path.exists(), "nothing was removed without the lock");
    drop(held);
    store.clear().await.unwrap();
    assert!(!path.exists());
    assert!(store.load().await.unwrap().is_none());
}

#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: the rename over it fails.
    let target = dir.path().join("tokens.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let error = write_atomically(dir.path(), &target, b"{}").unwrap_err();
    assert_ne!(error.kind(), std::io::ErrorKind::AlreadyExists, "{error}");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["tokens.json"], "the temporary file was removed");
}

#[tokio::test]
async fn a_corrupt_file_is_an_error_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    for bad in [
        "{not json",
        "{\"format\":1}",
        "{\"format\":9,\"refresh_token\":\"x\"}",
        "",
    ] {
        plant(&path, bad);
        let err = FileStore::new(&path).load().await.unwrap_err();
        assert!(err.to_string().contains("is corrupt"), "{bad}: {err}");
        assert!(err.hint().unwrap().contains("delete the file"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            bad,
            "never silently reset"
        );
    }
}

#[tokio::test]
async fn expired_stored_access_tokens_are_not_used() {
    let store = MemoryStore::new();
    let mut stored = tokens("r");
    if let Some(access) = stored.access_token.as_mut() {
        access.expires_at = Some(SystemTime::now() + Duration::from_secs(30));
    }
    store.save(&stored).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert!(loaded.live_access_token(Duration::from_secs(60)).is_none());
    assert!(loaded.live_access_token(Duration::from_secs(10)).is_some());
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes `text` as a token file that only its owner can read.
fn plant(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    chmod(path, 0o600);
}

#[tokio::test]
async fn hostile_contents_are_corrupt_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let huge = format!(
        r#"{{"format":1,"refresh_token":"{}"}}"#,
        "r".repeat(200_000)
    );
    for bad in [
        r#"{"format":1,"refresh_token":"r","access_token":{"token":"a","expires_at":18446744073709551615}}"#,
        r#"{"format":1,"refresh_token":"r","access_token":{"token":"a","expires_at":-1}}"#,
        r#"{"format":1,"refresh_token":"r","received_at":"yesterday"}"#,
        r#"{"format":1,"refresh_token":"r","access_token":{"token":"a","expires_at":1e300}}"#,
        huge.as_str(),
    ] {
        plant(&path, bad);
        let err = FileStore::new(&path).load().await.unwrap_err();
        assert!(err.to_string().contains("is corrupt"), "{err}");
        assert!(err.to_string().len() < 1024, "{err}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_others_can_read_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    store.save(&tokens("canary-refresh-9")).await.unwrap();
    chmod(store.path(), 0o644);
    let err = store.load().await.unwrap_err();
    assert!(err.to_string().contains("read by other users"), "{err}");
    assert!(err.hint().unwrap().contains("chmod 600"), "{err}");
    assert!(!err.to_string().contains("canary-refresh-9"));
    chmod(store.path(), 0o600);
    assert!(store.load().await.unwrap().is_some());
}

#[tokio::test]
async fn an_older_refresh_token_never_replaces_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("tokens.json"));
    let older = tokens("refresh-old");
    let newer = tokens("refresh-new");
    assert!(newer.received_at >= older.received_at);
    store.save(&newer).await.unwrap();
    // The write that rotated out the old token arrives late.
    let mut late = older.clone();
    late.received_at = newer.received_at - Duration::from_secs(1);
    store.save(&late).await.unwrap();
    let kept = store.load().await.unwrap().unwrap();
    assert_eq!(kept.refresh_token.expose_secret(), "refresh-new");
}

#[test]
fn concurrent_writers_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = FileStore::new(&path);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                for i in 0..25 {
                    let mut stored = tokens(&format!("refresh-{w}-{i}-{}", "x".repeat(2000)));
                    stored.received_at = UNIX_EPOCH + Duration::from_secs(1 + i * 4 + w);
                    runtime.block_on(store.save(&stored)).unwrap();
                    let loaded = runtime.block_on(store.load()).unwrap().unwrap();
                    assert!(loaded.refresh_token.expose_secret().starts_with("refresh-"));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let last = runtime
        .block_on(FileStore::new(&path).load())
        .unwrap()
        .unwrap();
    // The latest-received token of all writers (writer 3, round 24) is the one kept.
    assert!(
        last.refresh_token
            .expose_secret()
            .starts_with("refresh-3-24-")
    );
}
