//! YAML documents as trees that remember the line of each node (yaml-rust2's event parser):
//! a finding points at the line of the field it is about.
use yaml_rust2::{
    parser::{Event, MarkedEventReceiver, Parser},
    scanner::Marker,
};

/// A YAML node and the line (1-based) it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Scalar(String, usize),
    Seq(Vec<Node>, usize),
    Map(Vec<(String, Node)>, usize),
}

impl Node {
    pub(crate) fn line(&self) -> usize {
        match self {
            Node::Scalar(_, line) | Node::Seq(_, line) | Node::Map(_, line) => *line,
        }
    }

    /// The value at `key` of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a path of mapping keys.
    pub(crate) fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(value, _) => Some(value),
            _ => None,
        }
    }

    /// A whole number (Kubernetes' integer fields).
    pub(crate) fn as_u64(&self) -> Option<u64> {
        self.as_str()?.trim().parse().ok()
    }

    pub(crate) fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items, _) => items,
            _ => &[],
        }
    }
}

/// Builds nodes from the parser's events.
#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    /// Open collections: a sequence, or a mapping with its pending key.
    stack: Vec<Open>,
}

enum Open {
    Seq(Vec<Node>, usize),
    Map(Vec<(String, Node)>, Option<String>, usize),
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq(items, _)) => items.push(node),
            Some(Open::Map(entries, key, _)) => match key.take() {
                Some(key) => entries.push((key, node)),
                // A key: a scalar as is; a complex key keeps its first scalar's text.
                None => {
                    *key = Some(match node {
                        Node::Scalar(text, _) => text,
                        _ => String::new(),
                    })
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(value, ..) => self.push(Node::Scalar(value, line)),
            // An alias is read as an empty value: Kubernetes manifests do not use them.
            Event::Alias(_) => self.push(Node::Scalar(String::new(), line)),
            Event::SequenceStart(..) => self.stack.push(Open::Seq(Vec::new(), line)),
            Event::MappingStart(..) => self.stack.push(Open::Map(Vec::new(), None, line)),
            Event::SequenceEnd => {
                if let Some(Open::Seq(items, line)) = self.stack.pop() {
                    self.push(Node::Seq(items, line));
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(entries, _, line)) = self.stack.pop() {
                    self.push(Node::Map(entries, line));
                }
            }
            _ => {}
        }
    }
}

/// The documents of a multi-document YAML text, or where and why it cannot be read.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, (usize, String)> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|e| (e.marker().line(), e.info().to_owned()))?;
    Ok(builder.documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_lines_across_documents() {
        let docs = parse("a: 1\n---\nkind: Pod\nspec:\n  containers:\n  - name: x\n    env: []\n")
            .unwrap();
        assert_eq!(docs.len(), 2);
        let pod = &docs[1];
        assert_eq!(pod.get("kind").unwrap().as_str(), Some("Pod"));
        let container = &pod.at(&["spec", "containers"]).unwrap().items()[0];
        assert_eq!(container.get("name").unwrap().line(), 6);
        assert_eq!(container.get("env").unwrap().line(), 7);
    }

    #[test]
    fn malformed_yaml_says_where() {
        let (line, why) = parse("a: 1\nb: [unclosed\nc: 2\n").unwrap_err();
        assert!(line >= 2, "{line}: {why}");
        assert!(!why.is_empty());
    }
}
