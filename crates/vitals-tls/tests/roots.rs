//! Trust roots mean the same in every probe crate: a PEM and a file alike, added to the
//! system's roots unless the system's are explicitly left out.
use rcgen::{CertificateParams, IsCa, KeyPair};
use vitals_tls::TrustRoots;

/// A fresh CA's certificate as PEM.
fn ca_pem() -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .self_signed(&KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}

#[test]
fn a_pem_and_a_file_are_added_alike_to_the_systems_roots() {
    let system = TrustRoots::default().root_store().unwrap().len();
    let pem = ca_pem();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ca.pem");
    std::fs::write(&file, ca_pem()).unwrap();

    let mut by_pem = TrustRoots::default();
    by_pem.add_pem(pem.clone());
    assert_eq!(by_pem.root_store().unwrap().len(), system + 1);
    let mut by_file = TrustRoots::default();
    by_file.add_file(&file);
    assert_eq!(by_file.root_store().unwrap().len(), system + 1);
    let mut both = by_pem.clone();
    both.add_file(&file);
    assert_eq!(both.root_store().unwrap().len(), system + 2);
    assert!(!both.is_system() && !both.is_only_added());
    assert_eq!(both.added_pem().unwrap().len(), 2);
}

#[test]
fn only_the_added_roots_when_asked_and_never_none() {
    let mut only = TrustRoots::default();
    only.add_pem(ca_pem());
    only.only_added();
    assert_eq!(only.root_store().unwrap().len(), 1);
    // A driver that adds a chain to the system's roots itself cannot leave them out: said.
    let error = only.added_chain("lapin").unwrap_err();
    assert_eq!(
        error,
        "only_these_roots is not available here: lapin always trusts the system's roots as well"
    );
    let mut nothing = TrustRoots::default();
    nothing.only_added();
    assert_eq!(
        nothing.root_store().unwrap_err(),
        "only the added root certificates are trusted, but none was added"
    );
}

#[test]
fn bad_roots_are_errors_in_words_that_never_quote_the_text() {
    let mut junk = TrustRoots::default();
    junk.add_pem("not a certificate, maybe a secret");
    let error = junk.client_config().unwrap_err();
    assert_eq!(error, "the root certificate PEM holds no certificate");
    let mut missing = TrustRoots::default();
    missing.add_file("/nonexistent/vitals-ca.pem");
    assert!(
        missing
            .added_chain("sqlx")
            .unwrap_err()
            .starts_with("cannot read the root certificate file /nonexistent/vitals-ca.pem: "),
    );
    // Nothing added: a driver keeps its own roots.
    assert_eq!(TrustRoots::default().added_chain("sqlx"), Ok(None));
}
