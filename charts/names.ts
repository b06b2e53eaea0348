/** The app's own input check for namespace and Application names (the library validates its constructs' props itself). */
export function dnsLabel(value: string, prop: string): string {
  if (typeof value !== 'string' || value.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    throw new Error(
      `${prop} must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with an alphanumeric, ` +
        `at most 63 characters), got "${value}"`,
    );
  }
  return value;
}
