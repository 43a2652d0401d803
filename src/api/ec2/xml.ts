/**
 * EC2's query protocol on the way out: `<ActionResponse xmlns=...>` with
 * `<requestId>` and the members in lowerCamel, lists as `<item>` elements (an
 * empty list as an empty element, as EC2 sends `<ipRanges/>`), and errors as
 * `<Response><Errors><Error><Code>`. This is what the SDKs' ec2Query
 * deserializer reads (member names from the model's xmlName traits).
 */

export const EC2_XML_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** A member's value: text, a list (`<item>`s), a structure, or absent (undefined: no element). */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [name: string]: XmlValue };

const XML_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Text content: markup characters escaped, characters XML 1.0 cannot carry replaced. */
export function escapeXml(s: string): string {
  return s
    .replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'))
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function element(name: string, value: XmlValue, out: string[]): void {
  if (value === undefined) return;
  if (!XML_NAME_RE.test(name)) throw new Error(`not an XML element name: ${name}`);
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push(`<${name}/>`);
      return;
    }
    out.push(`<${name}>`);
    for (const item of value) element('item', item, out);
    out.push(`</${name}>`);
  } else if (typeof value === 'object') {
    out.push(`<${name}>`);
    for (const [k, v] of Object.entries(value)) element(k, v, out);
    out.push(`</${name}>`);
  } else {
    out.push(`<${name}>${escapeXml(String(value))}</${name}>`);
  }
}

/** The success document of an action: `<{Action}Response>` with requestId first, then the members in order. */
export function xmlResponse(action: string, requestId: string, members: Record<string, XmlValue>): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n', `<${action}Response xmlns="${EC2_XML_NAMESPACE}">`];
  element('requestId', requestId, out);
  for (const [k, v] of Object.entries(members)) element(k, v, out);
  out.push(`</${action}Response>`);
  return out.join('');
}

/** EC2's error document. */
export function xmlError(code: string, message: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`
  );
}
