/** A small well-formedness check for SVG text: every tag closed in order, attributes quoted, no stray < or &. Undefined when well-formed, else what is wrong and where. */
export function wellFormedXml(xml: string): string | undefined {
  const stack: string[] = [];
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    const [, close, name, , selfClose, text, stray] = m;
    if (stray) return `stray '<' at ${m.index}`;
    if (text !== undefined) {
      if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-fA-F]+);)/.test(text)) return `bad '&' at ${m.index}`;
      continue;
    }
    if (!name) continue; // comment or processing instruction
    if (close) {
      if (stack.pop() !== name) return `</${name}> at ${m.index} closes nothing open`;
    } else if (!selfClose) stack.push(name);
  }
  return stack.length ? `<${stack[stack.length - 1]}> never closed` : undefined;
}
