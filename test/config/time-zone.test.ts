import t from "tap";
import { parseConfig } from "../../src/config/load";

const yaml = (zone: string) => `source:\n  kind: mariadb\n  time_zone: ${JSON.stringify(zone)}\n`;

t.test("source.time_zone accepts UTC, fixed offsets and IANA regions, and names what it expects otherwise", async (t) => {
  for (const zone of ["UTC", "+09:00", "-05:30", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Tokyo"]) {
    t.equal(parseConfig(yaml(zone), "c.yaml").source.time_zone, zone, zone);
  }
  for (const zone of ["Mars/Olympus_Mons", "+9", "CEST+2", ""]) {
    t.throws(() => parseConfig(yaml(zone), "c.yaml"), /source\.time_zone/, JSON.stringify(zone));
  }
});
