// The region tree of GB/T 2260 codes (the parent zeroes the next level). Pure.

/** The region and its ancestors, nearest first: 500112 → 500100 → 500000 → 000000. */
export function ancestors(code) {
  const chain = [code];
  let c = code;
  while (c !== '000000') {
    if (c.slice(4) !== '00') c = c.slice(0, 4) + '00';
    else if (c.slice(2) !== '0000') c = c.slice(0, 2) + '0000';
    else c = '000000';
    chain.push(c);
  }
  return chain;
}

export function inSubtree(code, root) {
  return ancestors(code).includes(root);
}
