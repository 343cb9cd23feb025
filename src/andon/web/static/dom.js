// Small in-place DOM updates shared by the live views: they touch the page only when the
// value changed (a write costs layout even for equal text), so a wall screen never flickers.

/** Set a node's text only when it differs. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Set an attribute only when it differs. */
export function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** Put `child` at position `index` of `parent`, moving it only when it is elsewhere. */
export function placeAt(parent, child, index) {
  const current = parent.children[index];
  if (current !== child) parent.insertBefore(child, current ?? null);
}
